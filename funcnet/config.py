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
    # Bounds of the compilation caches (least recently used entries are dropped): traced
    # programs per jitted function (and options), and one-primitive eager programs.
    jit_cache_size: int = 4096
    eager_cache_size: int = 4096

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
        """Set option `name` (as ``jax.config.update``)."""
        setattr(self, name, value)

    def on_change(self, names, listener):
        """Call `listener(new_value)` whenever one of `names` changes (funcnet internal)."""
        for name in (names,) if isinstance(names, str) else names:
            self._listeners.setdefault(name, []).append(listener)

    @contextlib.contextmanager
    def override(self, **options):
        """Set options for the duration of a `with` block, then restore them.

        Example:
          >>> with fn.config.override(enable_x64=True, debug_nans=True):
          ...     step(params, batch)
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
    return {
        k: v
        for k, v in vars(_Config).items()
        if not k.startswith("_") and isinstance(v, (bool, int))
    }


def _check(name, default, value):
    if isinstance(default, bool):
        if isinstance(value, (str, bytes, float)) or value not in (0, 1):
            raise TypeError(f"funcnet.config.{name} must be True or False, got {value!r}")
        return bool(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"funcnet.config.{name} must be a positive integer, got {value!r}")
    return int(value)


def _parse(name, default, raw, var):
    text = raw.strip().lower()
    if isinstance(default, bool):
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"environment variable {var}={raw!r}: expected 1/0, true/false")
    try:
        return _check(name, default, int(text))
    except ValueError:
        raise ValueError(
            f"environment variable {var}={raw!r}: expected a positive integer"
        ) from None


config = _Config()


def enable_x64(new_val: bool = True):
    """Context manager: 64-bit dtypes (float64, int64) on inside the block.

    Example:
      >>> with enable_x64():
      ...     fnp.asarray(np.ones(3)).dtype   # float64
    """
    return config.override(enable_x64=new_val)


def disable_jit(disable: bool = True):
    """Context manager: `jit` runs functions eagerly, op by op, inside the block (as
    ``jax.disable_jit``), so that print, pdb and Python control flow on values work.

    Example:
      >>> with disable_jit():
      ...     step(params, batch)   # prints inside `step` show concrete values
    """
    return config.override(disable_jit=disable)


def debug_nans(new_val: bool = True):
    """Context manager: raise FloatingPointError at the first nan-producing primitive."""
    return config.override(debug_nans=new_val)


def debug_infs(new_val: bool = True):
    """Context manager: raise FloatingPointError at the first inf-producing primitive."""
    return config.override(debug_infs=new_val)
