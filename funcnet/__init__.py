"""funcnet: a functional deep-learning library with its own grad, vmap and jit.

The public API at the top level mirrors jax's (`fn.jit`, `fn.grad`, `fn.vmap`, ...);
the array API is `funcnet.numpy`, the primitives `funcnet.lax`, and the libraries
`funcnet.nn`, `funcnet.optim`, `funcnet.random`. Importing funcnet fills every rule
table (`funcnet.backend`, `funcnet.transforms`); see ARCHITECTURE.md for the layers.
"""

from funcnet import (
    backend,  # lowering rules, eager execution
    compress,  # pruning, quantization, distillation, mixed precision
    data,  # sources and the Loader (grain is imported when a Loader first runs)
    debug,
    distributed,  # multi-process runs on the runtime's coordination service
    errors,
    export,
    io,
    lax,
    nn,
    numpy,
    onnx,  # ONNX export; the optional onnx package is imported only by export()
    optim,
    random,
    scipy,
    sharding,
    test_util,
    train,  # the training loop (TrainState, make_step, fit)
    transforms,  # every transformation's rules
    tree,
    tree_util,
)
from funcnet.config import config, debug_infs, debug_nans, disable_jit, enable_x64
from funcnet.core import dtypes
from funcnet.core.array import Array, ShapeDtypeStruct
from funcnet.core.aval import ShapedArray
from funcnet.core.trace import ConcretizationError, FuncnetError, UnexpectedTracerError
from funcnet.debug import effects_barrier
from funcnet.devices import (
    asarray,
    block_until_ready,
    default_backend,
    device_count,
    device_get,
    device_put,
    devices,
    local_device_count,
    local_devices,
    process_count,
    process_index,
    typeof,
)
from funcnet.distributed import make_array_from_process_local_data
from funcnet.io import load, save
from funcnet.lax import stop_gradient
from funcnet.runtime.cache import clear_caches
from funcnet.transforms.custom import custom_jvp, custom_vjp
from funcnet.transforms.fused_eager import fused_eager
from funcnet.transforms.grad import (
    grad,
    hessian,
    jacfwd,
    jacrev,
    linearize,
    value_and_grad,
    vjp,
)
from funcnet.transforms.jit import eval_shape, jit, make_jaxpr
from funcnet.transforms.jvp import jvp
from funcnet.transforms.remat import checkpoint, remat
from funcnet.transforms.shard_map import shard_map
from funcnet.transforms.vmap import vmap

jacobian = jacrev  # as jax.jacobian

__version__ = "0.1.0"

__all__ = [
    "Array",
    "ConcretizationError",
    "FuncnetError",
    "ShapeDtypeStruct",
    "ShapedArray",
    "UnexpectedTracerError",
    "asarray",
    "backend",
    "block_until_ready",
    "checkpoint",
    "clear_caches",
    "compress",
    "config",
    "custom_jvp",
    "custom_vjp",
    "data",
    "debug",
    "debug_infs",
    "debug_nans",
    "default_backend",
    "device_count",
    "device_get",
    "device_put",
    "devices",
    "disable_jit",
    "distributed",
    "dtypes",
    "effects_barrier",
    "enable_x64",
    "errors",
    "eval_shape",
    "export",
    "fused_eager",
    "grad",
    "hessian",
    "io",
    "jacfwd",
    "jacobian",
    "jacrev",
    "jit",
    "jvp",
    "lax",
    "linearize",
    "load",
    "local_device_count",
    "local_devices",
    "make_array_from_process_local_data",
    "make_jaxpr",
    "nn",
    "numpy",
    "onnx",
    "optim",
    "process_count",
    "process_index",
    "random",
    "remat",
    "save",
    "scipy",
    "shard_map",
    "sharding",
    "stop_gradient",
    "test_util",
    "train",
    "transforms",
    "tree",
    "tree_util",
    "typeof",
    "value_and_grad",
    "vjp",
    "vmap",
]

if config.fused_eager:  # FUNCNET_FUSED_EAGER=1: record eager code from here on
    transforms.fused_eager.enter_from_config()
