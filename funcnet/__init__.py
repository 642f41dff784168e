"""funcnet: a functional deep-learning library with its own grad, vmap and jit."""

from funcnet.config import (config, debug_infs, debug_nans, disable_jit,  # noqa: F401
                            enable_x64)
from funcnet.core import dtypes  # noqa: F401
from funcnet.core.array import Array, ShapeDtypeStruct  # noqa: F401
from funcnet.core.aval import ShapedArray  # noqa: F401
from funcnet.core.trace import (ConcretizationError, FuncnetError,  # noqa: F401
                                UnexpectedTracerError)
from funcnet import lax  # noqa: F401
from funcnet.backend import lowering_rules as _lowering_rules  # noqa: F401  (fills the table)
from funcnet.backend import lowering_windowed as _lowering_windowed  # noqa: F401
from funcnet.backend import lowering_control_flow as _lowering_control_flow  # noqa: F401
from funcnet.transforms import jvp_rules as _jvp_rules  # noqa: F401  (fills the table)
from funcnet.transforms import transpose_rules as _transpose_rules  # noqa: F401
from funcnet.transforms import control_flow_ad as _control_flow_ad  # noqa: F401
from funcnet.transforms.grad import (grad, hessian, jacfwd, jacrev, linearize,  # noqa: F401
                                     value_and_grad, vjp)
from funcnet.transforms.jvp import jvp  # noqa: F401
from funcnet.lax import stop_gradient  # noqa: F401
from funcnet.transforms.custom import custom_jvp, custom_vjp  # noqa: F401
from funcnet.transforms.remat import checkpoint, remat  # noqa: F401
from funcnet import errors  # noqa: F401
from funcnet import test_util  # noqa: F401
from funcnet.backend.cache import clear_caches  # noqa: F401
from funcnet.transforms.jit import eval_shape, jit, make_jaxpr  # noqa: F401
from funcnet.transforms.vmap import vmap  # noqa: F401
from funcnet.devices import (asarray, block_until_ready, default_backend,  # noqa: F401
                             device_count, device_get, device_put, devices, local_device_count,
                             local_devices, process_count, process_index, typeof)
from funcnet import sharding  # noqa: F401
from funcnet import numpy  # noqa: F401
from funcnet import random  # noqa: F401
from funcnet import tree  # noqa: F401
from funcnet import tree_util  # noqa: F401
from funcnet import debug  # noqa: F401
from funcnet.debug import effects_barrier  # noqa: F401
from funcnet import optim  # noqa: F401  (after numpy and tree, which it uses)
from funcnet import nn  # noqa: F401  (after numpy, random and tree, which it uses)

jacobian = jacrev  # as jax.jacobian

__version__ = "0.1.0"
