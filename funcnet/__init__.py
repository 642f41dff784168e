"""funcnet: a functional deep-learning library with its own grad, vmap and jit."""

from funcnet.config import config  # noqa: F401
from funcnet.core import dtypes  # noqa: F401
from funcnet.core.array import Array  # noqa: F401
from funcnet.core.aval import ShapedArray  # noqa: F401
from funcnet.core.trace import (ConcretizationError, FuncnetError,  # noqa: F401
                                UnexpectedTracerError)
from funcnet import lax  # noqa: F401
from funcnet.backend import lowering_rules as _lowering_rules  # noqa: F401  (fills the table)
from funcnet.transforms.jit import eval_shape, jit, make_jaxpr  # noqa: F401
from funcnet.devices import asarray, device_put, devices  # noqa: F401
from funcnet import numpy  # noqa: F401
from funcnet import tree  # noqa: F401

__version__ = "0.1.0"
