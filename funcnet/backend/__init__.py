"""From programs to XLA: StableHLO lowering (`lowering.py` and its rule modules), eager
execution of single primitives (`eager.py`, installed as core's default eager
implementation) and nan/inf checking (`nan_check.py`). Importing this package fills
`lowering_rules` and installs eager execution."""

from funcnet.backend import (  # noqa: F401  (fill the table, install eager execution)
    eager,
    lowering_control_flow,
    lowering_linalg,
    lowering_parallel,
    lowering_rules,
    lowering_sharding,
    lowering_special,
    lowering_windowed,
    nan_check,
)
