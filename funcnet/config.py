"""Global switches. Read them as attributes: ``fn.config.enable_x64 = True``."""


class _Config:
    # float64/int64 are off by default, as in jax: 64-bit requests are narrowed to 32 bits.
    enable_x64: bool = False
    # When True, every jit cache miss logs (via `logging`) why the signature was new.
    explain_cache_misses: bool = False
    # Run DCE and CSE on every traced program before lowering.
    optimize_jaxprs: bool = True

    def update(self, name, value):
        if not hasattr(_Config, name):
            raise AttributeError(f"funcnet.config has no option {name!r}")
        setattr(self, name, value)


config = _Config()
