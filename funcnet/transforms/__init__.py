"""Transformations: jvp, partial evaluation and transposition (reverse mode), vmap, jit,
custom derivatives, checkpointing, control flow.

Each transformation keeps its machinery and its `RuleTable` in one module (`jvp.py`:
`jvp_rules`, `transpose.py`: `transpose_rules`, `batching.py`: `batching_rules`,
`partial_eval.py`: `partial_eval_rules`). Rows for funcnet.lax's primitives are in the
`*_rules*.py` modules of each transformation; rows for primitives that carry programs
(jit, checkpoint, custom rules, cond/while/scan) sit with their machinery. Importing
this package imports every rule module, so every table is full.
"""

from funcnet.transforms import (  # noqa: F401  (fill the tables)
    batching_rules,
    batching_rules_calls,
    batching_rules_control,
    batching_rules_indexing,
    batching_rules_linalg,
    batching_rules_parallel,
    batching_rules_sharding,
    batching_rules_special,
    control_flow_ad,
    custom,
    jit,
    jvp_rules,
    jvp_rules_linalg,
    jvp_rules_parallel,
    jvp_rules_sharding,
    jvp_rules_special,
    remat,
    shard_map,
    transpose_rules,
    transpose_rules_linalg,
    transpose_rules_parallel,
    transpose_rules_sharding,
    vmap,
)
