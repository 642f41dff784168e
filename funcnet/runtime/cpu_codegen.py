"""The XLA:CPU code-generation options funcnet adds to its CPU compiles.

XLA:CPU vectorizes its loops (elementwise fusions, reductions) for 256-bit registers,
also on CPUs with AVX-512: on Intel's Skylake-generation servers 512-bit instructions
lower the clock of the whole core. AMD's Zen 4 and Zen 5 run them at full clock. On the
Zen 5 of our benchmarks, 512-bit loops made the char-LSTM training step 6.5% faster
(34.6 -> 32.4 ms), the digits CNN's 4.6% and the MLP's 2%; the attention block's did
not change (its time is in GEMMs, which XLA's libraries vectorize themselves).

`config.cpu_vector_width` chooses: 0 (the default) asks for 512 bits on AMD CPUs with
AVX-512 and leaves XLA's choice everywhere else; 128, 256 or 512 ask for that width on
any CPU. LLVM never uses registers the CPU lacks, so every setting runs everywhere;
results move only where a vectorized reduction sums in another order. The option acts
on programs compiled after it is set (`fn.clear_caches()` recompiles the rest), and is
part of the persistent compilation cache's key.
"""

import functools
import platform

from funcnet.config import config

__all__ = ["overrides", "vector_width"]


def vector_width() -> int:
    """The vector width (bits) funcnet asks XLA:CPU for; 0 leaves XLA's default.

    Returns:
      `config.cpu_vector_width` when set, else 512 on an AMD CPU with AVX-512, else 0.
    """
    return config.cpu_vector_width or _auto_width()


def overrides(platform_name: str) -> list:
    """XLA option overrides (`CompileOptions.env_option_overrides`) for a compile on
    `platform_name`: none off CPU.

    Args:
      platform_name: the device platform, e.g. "cpu".

    Returns:
      A list of `(flag, value)` pairs.
    """
    if platform_name != "cpu":
        return []
    width = vector_width()
    return [("xla_cpu_prefer_vector_width", width)] if width else []


@functools.cache
def _auto_width() -> int:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return 0
    vendor, flags = _cpuinfo()
    return 512 if vendor == "AuthenticAMD" and "avx512f" in flags else 0


def _cpuinfo():
    """The first processor's vendor id and flags from /proc/cpuinfo (Linux); empty
    where it cannot be read."""
    vendor, flags = "", set()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "vendor_id" and not vendor:
                    vendor = value.strip()
                elif key == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    return vendor, flags
