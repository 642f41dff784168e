"""The ahead-of-time stages of a jitted function, as `jax.stages`: `Jitted.lower`
gives a `Lowered` (the StableHLO module, not compiled), whose `compile` gives a
`Compiled` (the XLA executable, runnable for that one signature)."""

from funcnet.core.jaxpr import ClosedJaxpr

__all__ = ["Compiled", "Lowered"]


class Lowered:
    """A function traced and lowered to StableHLO for one signature, not yet compiled
    (as `jax.stages.Lowered`). Made by `Jitted.lower`, not constructed directly.

    Args:
      jitted: the `Jitted` function it was lowered from.
      entry: the cache entry holding the traced program (and its executables).
      lowered: the lowered module (`backend.lowering.LoweredModule`: its text, and its
        device list when partitioned).
      device: the device it will be compiled for, or the arguments' shardings.
      attrs: per-argument attributes of the module (buffer donation), or None.
      signature: the (tree structure, static arguments, avals) it was lowered for.

    Attributes:
      jaxpr: the traced program (a `ClosedJaxpr`, printed readably).
    """

    def __init__(self, jitted, entry, lowered, device, attrs, signature):
        self._jitted, self._entry, self._lowered = jitted, entry, lowered
        self._text = lowered.text
        self._device, self._attrs, self._signature = device, attrs, signature

    def as_text(self) -> str:
        """The StableHLO module funcnet emitted (with Shardy sharding annotations,
        `sdy.mesh`/`sdy.sharding`, when the function is partitioned over a mesh).

        Returns:
          The module as MLIR text (a `str`).
        """
        return self._text

    @property
    def jaxpr(self) -> ClosedJaxpr:
        """The traced program (after funcnet's DCE/CSE when `optimize_jaxprs` is on)."""
        return self._entry.closed

    def compile(self) -> "Compiled":
        """Compiles the module with XLA for its device (reusing the executable if this
        signature was compiled before).

        Returns:
          A `Compiled`.
        """
        exe = self._jitted._executable(
            self._entry, *self._signature[:2], self._signature[2], self._device, self._lowered
        )
        return Compiled(self._jitted, exe, self._signature)


class Compiled:
    """An XLA executable of a lowered function (as `jax.stages.Compiled`). Made by
    `Lowered.compile`, not constructed directly.

    It runs only for the signature it was lowered for: arguments of another tree
    structure, other shapes or dtypes, or other static values raise TypeError, as
    jax's do (call the jitted function itself to compile for them).

    Args:
      jitted: the `Jitted` function it was compiled from.
      exe: the runtime executable.
      signature: the (tree structure, static arguments, avals) it was lowered for.
    """

    def __init__(self, jitted, exe, signature):
        self._jitted, self._exe, self._signature = jitted, exe, signature

    def as_text(self) -> str:
        """The optimized HLO XLA compiled (after SPMD partitioning: per-device shapes
        and the collectives XLA inserted, when the function is partitioned).

        Returns:
          The HLO module as text (a `str`).
        """
        return self._exe.hlo_text()

    def memory_analysis(self):
        """XLA's memory statistics of the executable.

        Returns:
          The runtime's `CompiledMemoryStats` (argument, output, temporary and
          generated-code sizes in bytes).
        """
        return self._exe.memory_stats()

    def cost_analysis(self):
        """XLA's cost estimate of the executable.

        Returns:
          A dict of XLA's cost properties (e.g. 'flops', 'bytes accessed'), as the
          runtime reports them.
        """
        return self._exe.cost_analysis()

    def __call__(self, *args, **kwargs):
        """Runs the computation (see the class docstring).

        Args:
          *args, **kwargs: the arguments, as for the jitted function, with the
            structure, shapes, dtypes and static values it was lowered for.

        Returns:
          The function's outputs, a pytree of Arrays.

        Raises:
          TypeError: the arguments do not match the compiled signature.
        """
        _, in_tree, static, avals = self._jitted._flatten(args, kwargs)
        want_tree, want_static, want_avals = self._signature
        if in_tree != want_tree or static != want_static:
            raise TypeError(
                f"Compiled {self._jitted.__name__} called with arguments of structure "
                f"{in_tree} and static values {static}; it was compiled for {want_tree} "
                f"and {want_static}"
            )
        got = [(a.shape, a.dtype) for a in avals]
        want = [(a.shape, a.dtype) for a in want_avals]
        if got != want:
            raise TypeError(
                f"Argument types differ from the types for which {self._jitted.__name__} "
                f"was compiled: got {_type_list(avals)}, compiled for {_type_list(want_avals)}"
            )
        return self._jitted(*args, **kwargs)


def _type_list(avals) -> str:
    return "(" + ", ".join(a.str_short() for a in avals) + ")"
