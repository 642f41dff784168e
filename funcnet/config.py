"""Global switches. Read them as attributes: ``fn.config.enable_x64 = True``.

Each option can also be set with ``fn.config.update(name, value)``, for one block with
a context manager (``with enable_x64(): ...``, ``with disable_jit(): ...``), or at
import time from an environment variable ``FUNCNET_<NAME>`` (``FUNCNET_ENABLE_X64=1``).

Options are plain instance attributes, so reading one on a hot path costs a dict
lookup; setting one validates the value and tells the modules that keep derived state
(dispatch fast paths, jax's runtime x64 flag) through listeners.
"""

import contextlib
import os

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


class _Config:
    """funcnet's global options, as `jax.config`; the one instance is `funcnet.config`.

    Read an option as an attribute (`fn.config.enable_x64`); set it by assignment or
    `update` (the value is checked), for a block with `override` or the context
    managers below, or at import time with the environment variable
    `FUNCNET_<OPTION>` (`FUNCNET_ENABLE_X64=1`, `FUNCNET_JIT_CACHE_SIZE=256`). The
    constructor takes no arguments: it reads those variables.

    Attributes:
      enable_x64: bool, default False. 64-bit dtypes (float64, int64, ...); when off,
        64-bit requests are narrowed to 32 bits, as in jax.
      disable_jit: bool, default False. `jit(f)(x)` calls `f` directly, op by op, so
        that print, pdb and Python control flow on values work inside it.
      debug_nans: bool, default False. Raise FloatingPointError at the first
        primitive that produces a nan (eagerly, and by re-running a jitted program op
        by op to find it).
      debug_infs: bool, default False. The same for infinities.
      fused_eager: bool, default False. Eager operations of the thread that sets it
        are recorded and run as compiled chains, as inside `with fn.fused_eager():`;
        setting it back to False runs what is pending (`FUNCNET_FUSED_EAGER=1`: the
        main thread, from `import funcnet` on).
      explain_cache_misses: bool, default False. Log (with `logging`, logger
        "funcnet.jit") why each jit cache miss had a new signature.
      optimize_jaxprs: bool, default True. Run dead-code elimination and common
        subexpression elimination on every traced program before lowering.
      jit_cache_size: int, default 4096. Traced programs kept per jitted function
        (and options); least recently used dropped first.
      eager_cache_size: int, default 4096. One-primitive programs kept for eager
        execution.
      compilation_cache_dir: str or None, default None (off). A directory where
        compiled XLA executables are kept across processes, so that a new process
        running the same programs skips their compiles (`"~/.cache/funcnet"`; `~` is
        expanded; an empty string means None). See
        `funcnet.runtime.compilation_cache`.
      compilation_cache_max_size: int, default 1 GiB (2**30). Bytes the compilation
        cache's directory may hold; the least recently used entries are deleted first.
      compilation_cache_min_compile_time_secs: float, default 0.0. Programs that
        compiled faster than this are not written to the compilation cache (0: store
        every program; loading one is ~1 ms, compiling even a one-op program 10-80 ms).

      reuse_host_memory: bool, default True. When funcnet is imported, ask glibc to
        keep freed memory mapped (two malloc arenas, no `mmap` for large blocks, heap
        kept up to 1 GiB), so XLA's per-run temporaries do not fault in fresh pages
        each run (`funcnet.runtime.host_memory`). Set `FUNCNET_REUSE_HOST_MEMORY=0` to
        leave malloc alone; it acts once, at import.
      cpu_vector_width: int, default 0. The register width in bits (128, 256 or 512)
        XLA:CPU's loops are vectorized for; 0 chooses 512 on AMD CPUs with AVX-512 and
        XLA's default (256) elsewhere (`funcnet.runtime.cpu_codegen`). It applies to
        programs compiled after it is set.

    Example:
      >>> old = fn.config.jit_cache_size
      >>> fn.config.update("jit_cache_size", 1024)
      >>> fn.config.jit_cache_size
      1024
      >>> fn.config.jit_cache_size = old    # assignment works too
    """

    # float64/int64 are off by default, as in jax: 64-bit requests are narrowed to 32 bits.
    enable_x64: bool = False
    # When True, every jit cache miss logs (via `logging`) why the signature was new.
    explain_cache_misses: bool = False
    # Run DCE and CSE on every traced program before lowering.
    optimize_jaxprs: bool = True
    # `jit(f)(x)` calls `f` directly (eagerly), so that print and pdb work inside it.
    disable_jit: bool = False
    # Raise FloatingPointError at the first primitive that produces a nan (an inf).
    debug_nans: bool = False
    debug_infs: bool = False
    # Record eager operations and run each chain as one program (transforms/fused_eager.py).
    fused_eager: bool = False
    # Bounds of the compilation caches (least recently used entries are dropped): traced
    # programs per jitted function (and options), and one-primitive eager programs.
    jit_cache_size: int = 4096
    eager_cache_size: int = 4096
    # The persistent compilation cache (funcnet/runtime/compilation_cache.py): off while
    # the directory is None; its size bound in bytes; the compile time under which a
    # program is not stored.
    compilation_cache_dir: str | None = None
    compilation_cache_max_size: int = 1 << 30
    compilation_cache_min_compile_time_secs: float = 0.0
    # Keep freed host memory mapped for the CPU runtime (funcnet/runtime/host_memory.py).
    reuse_host_memory: bool = True
    # The vector width XLA:CPU's loops are compiled for (funcnet/runtime/cpu_codegen.py);
    # 0 chooses by CPU.
    cpu_vector_width: int = 0

    def __init__(self):
        object.__setattr__(self, "_listeners", {})
        for name, default in _options().items():
            raw = os.environ.get("FUNCNET_" + name.upper())
            if raw is not None:
                object.__setattr__(
                    self, name, _parse(name, default, raw, "FUNCNET_" + name.upper())
                )

    def __setattr__(self, name, value):
        defaults = _options()
        if name not in defaults:
            raise AttributeError(
                f"funcnet.config has no option {name!r}; options are " + ", ".join(sorted(defaults))
            )
        value = _check(name, defaults[name], value)
        old = getattr(self, name)
        object.__setattr__(self, name, value)
        if value != old:
            for listener in list(self._listeners.get(name, ())):
                listener(value)

    def update(self, name, value):
        """Sets an option, as `jax.config.update`.

        Args:
          name: the option's name, e.g. "enable_x64" (see the class docstring).
          value: its new value: True/False (or 1/0) for a switch, a positive int for a
            cache size, a path or None for a directory, a number >= 0 for a time.

        Returns:
          None.

        Raises:
          AttributeError: `name` is not an option.
          TypeError: a switch got something other than True/False, or a directory
            something other than a path or None.
          ValueError: a cache size got something other than a positive int, or a time
            a negative number.
        """
        setattr(self, name, value)

    def on_change(self, names, listener):
        """Calls `listener(new_value)` whenever one of `names` changes (funcnet internal:
        modules that keep state derived from an option use it).

        Args:
          names: an option name, or an iterable of them.
          listener: a function of the option's new value.

        Returns:
          None.
        """
        for name in (names,) if isinstance(names, str) else names:
            self._listeners.setdefault(name, []).append(listener)

    @contextlib.contextmanager
    def override(self, **options):
        """Sets options for the duration of a `with` block, then restores them (also
        when the block raises).

        Args:
          **options: option names and their values for the block, e.g.
            `enable_x64=True, debug_nans=True`.

        Returns:
          A context manager; `with ... as cfg` binds `funcnet.config`.

        Raises:
          AttributeError: an unknown option (before anything is set).

        Example:
          >>> with fn.config.override(enable_x64=True, debug_nans=True):
          ...     print(fnp.asarray(np.ones(2)).dtype)
          float64
        """
        unknown = sorted(set(options) - set(_options()))
        if unknown:
            raise AttributeError(f"funcnet.config has no option {unknown[0]!r}")
        old = {name: getattr(self, name) for name in options}
        try:
            for name, value in options.items():
                setattr(self, name, value)
            yield self
        finally:
            for name, value in old.items():
                setattr(self, name, value)

    def __repr__(self):
        return (
            "funcnet.config("
            + ", ".join(f"{k}={getattr(self, k)!r}" for k in sorted(_options()))
            + ")"
        )


def _options() -> dict:
    annotated = _Config.__annotations__  # every option is annotated: `None` defaults too
    return {
        k: v
        for k, v in vars(_Config).items()
        if not k.startswith("_") and (k in annotated or isinstance(v, (bool, int)))
    }


# Integer options that take one of a few values (0: chosen by funcnet).
_CHOICES = {"cpu_vector_width": (0, 128, 256, 512)}


def _is_path_option(default) -> bool:
    return default is None or isinstance(default, str)


def _check(name, default, value):
    if isinstance(default, bool):
        if isinstance(value, (str, bytes, float)) or value not in (0, 1):
            raise TypeError(f"funcnet.config.{name} must be True or False, got {value!r}")
        return bool(value)
    if _is_path_option(default):
        if value is None:
            return None
        if isinstance(value, (str, os.PathLike)):
            return os.fspath(value) or None  # "" means None, as for the variable
        raise TypeError(f"funcnet.config.{name} must be a path (str) or None, got {value!r}")
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"funcnet.config.{name} must be a number >= 0, got {value!r}")
        return float(value)
    if name in _CHOICES:
        if isinstance(value, bool) or value not in _CHOICES[name]:
            raise ValueError(
                f"funcnet.config.{name} must be one of {_CHOICES[name]}, got {value!r}"
            )
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"funcnet.config.{name} must be a positive integer, got {value!r}")
    return int(value)


def _parse(name, default, raw, var):
    if _is_path_option(default):
        return raw or None  # a path is taken as written; an empty variable means None
    text = raw.strip().lower()
    if isinstance(default, float):
        try:
            return _check(name, default, float(text))
        except ValueError:
            raise ValueError(
                f"environment variable {var}={raw!r}: expected a number >= 0"
            ) from None
    if isinstance(default, bool):
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"environment variable {var}={raw!r}: expected 1/0, true/false")
    expected = f"one of {_CHOICES[name]}" if name in _CHOICES else "a positive integer"
    try:
        return _check(name, default, int(text))
    except ValueError:
        raise ValueError(f"environment variable {var}={raw!r}: expected {expected}") from None


config = _Config()


def enable_x64(new_val: bool = True):
    """Context manager: 64-bit dtypes (float64, int64) on inside the block, as jax's
    `enable_x64` (sets `funcnet.config.enable_x64` and restores it afterwards).

    Args:
      new_val: the value of the option inside the block (False turns 64-bit mode off).

    Returns:
      A context manager; it has an effect only in a `with` statement.

    Example:
      >>> with fn.enable_x64():
      ...     print(fnp.asarray(np.ones(3)).dtype, fnp.arange(3).dtype)
      float64 int64
    """
    return config.override(enable_x64=new_val)


def disable_jit(disable: bool = True):
    """Context manager: `jit` runs functions eagerly, op by op, inside the block, as
    `jax.disable_jit`, so that print, pdb and Python control flow on values work.

    Args:
      disable: the value of `funcnet.config.disable_jit` inside the block.

    Returns:
      A context manager; it has an effect only in a `with` statement.

    Example:
      >>> @fn.jit
      ... def f(x):
      ...     print("x is", x)    # under jit x would be a tracer
      ...     return x * 2
      >>> with fn.disable_jit():
      ...     y = f(fnp.ones(2))
      x is [1. 1.]
    """
    return config.override(disable_jit=disable)


def debug_nans(new_val: bool = True):
    """Context manager: raise FloatingPointError at the first primitive that produces a
    nan inside the block (sets `funcnet.config.debug_nans`, as jax's `debug_nans`).

    Args:
      new_val: the value of the option inside the block.

    Returns:
      A context manager; it has an effect only in a `with` statement.

    Example:
      >>> with fn.debug_nans():
      ...     fnp.log(fnp.asarray(-1.0))
      Traceback (most recent call last):
        ...
      FloatingPointError: invalid value (nan) encountered in log ...
    """
    return config.override(debug_nans=new_val)


def debug_infs(new_val: bool = True):
    """Context manager: raise FloatingPointError at the first primitive that produces an
    infinity inside the block (sets `funcnet.config.debug_infs`, as jax's `debug_infs`).

    Args:
      new_val: the value of the option inside the block.

    Returns:
      A context manager; it has an effect only in a `with` statement.
    """
    return config.override(debug_infs=new_val)
