"""The XLA runtime, reached through jaxlib. This module and funcnet/tree.py are the
only places funcnet touches jax: compiling StableHLO text, executing, and device
buffers (the runtime's arrays, used as raw buffers)."""

import functools

import jax
import numpy as np
from jax.extend import backend as _jex_backend

try:  # jaxlib's client module moved between releases
    from jax._src.lib import xla_client as _xc
except ImportError:  # pragma: no cover
    from jaxlib import xla_client as _xc

Buffer = jax.Array  # a device buffer; funcnet.Array wraps one


@functools.cache
def client(platform: str | None = None):
    return _jex_backend.get_backend(platform)


def devices(platform: str | None = None):
    """The devices of the default (or named) backend: 'cpu', 'gpu'/'cuda'."""
    return list(client(platform).devices())


def default_device():
    return devices()[0]


def device_put(value, device=None) -> Buffer:
    """Copy a host value (NumPy array or scalar) or a buffer to a device."""
    return jax.device_put(value, device if device is not None else default_device())


def to_numpy(buf: Buffer) -> np.ndarray:
    return np.asarray(buf)


def is_buffer(x) -> bool:
    return isinstance(x, jax.Array) and not isinstance(x, jax.core.Tracer)


def _compile_options():
    opts = _xc.CompileOptions()
    build = opts.executable_build_options
    build.num_replicas = 1
    build.num_partitions = 1
    return opts


class Executable:
    """A compiled program for one device; `execute` takes and returns buffers."""

    def __init__(self, mlir_text: str, device, n_outputs: int):
        self.device = device
        self.n_outputs = n_outputs
        self._exe = client(device.platform).compile_and_load(
            mlir_text, _xc.DeviceList((device,)), _compile_options())

    def execute(self, buffers):
        results = self._exe.execute_sharded(buffers)
        return [shards[0] for shards in results.disassemble_into_single_device_arrays()]

    def hlo_text(self) -> str:
        """The optimized HLO XLA produced."""
        return "\n".join(m.to_string() for m in self._exe.hlo_modules())

    def memory_stats(self):
        return self._exe.get_compiled_memory_stats()

    def cost_analysis(self):
        return self._exe.cost_analysis()
