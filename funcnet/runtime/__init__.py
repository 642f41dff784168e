"""The XLA runtime, reached through jaxlib: the only package (with funcnet/tree.py)
where funcnet touches jax. It compiles StableHLO text, executes programs, moves buffers
between host and devices, and registers host callbacks; it knows nothing of tracing.
`cache` holds the bounded caches every layer above keeps its programs in."""
