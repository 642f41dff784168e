"""Recurrent layers: the cells SimpleRNNCell, GRUCell, LSTMCell (one time step) and
the sequence layers RNN, GRU, LSTM that run a cell over ``(batch, time, features)``
with ``funcnet.lax.scan`` and return the output sequence ``(batch, time, hidden)``.

A cell follows the layer protocol for ``init`` (input ``(batch, features)``, output
``(batch, hidden)``), but a step also carries state, so its ``apply`` is
``apply(params, x, carry=None) -> (new_carry, y)`` (a zero carry when None);
``cell.initial_carry(batch_shape)`` makes one. Carries: SimpleRNN and GRU ``h``,
LSTM ``(c, h)``. The input projection ``x @ wi`` of every time step is computed
before the scan as one matrix product; only ``h @ wh`` runs inside the loop. After an
``Embedding`` in a ``Sequential``, the projection is applied to the embedding table
instead, and each step picks its rows (``funcnet.nn.lookup``).
"""

import numpy as np

import funcnet.numpy as fnp
from funcnet import lax, tree
from funcnet.core import dtypes
from funcnet.nn.activations import sigmoid
from funcnet.nn.core import Layer, LayerError, Param, resolve_init, shape_of
from funcnet.nn.linear import _features
from funcnet.nn.lookup import Lookup

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Bidirectional",
    "GRUCell",
    "LSTMCell",
    "Recurrent",
    "SimpleRNNCell",
]


class _Cell(Layer):
    gates = 1

    def __init__(
        self,
        hidden,
        *,
        kernel_init="lecun_normal",
        recurrent_init="orthogonal",
        bias_init="zeros",
        dtype=np.float32,
        name=None,
    ):
        super().__init__(name=name)
        kind = type(self).__name__
        self.hidden = _features(hidden, kind, "hidden")
        self.kernel_init = resolve_init(kernel_init, kind, "kernel_init")
        self.recurrent_init = resolve_init(recurrent_init, kind, "recurrent_init")
        self.bias_init = resolve_init(bias_init, kind, "bias_init")
        self.dtype = dtype

    def _in(self, input_shape):
        if len(input_shape) < 1 or input_shape[-1] == -1:
            raise LayerError(
                f"expects an input (..., features) with the features known, got shape {input_shape}"
            )
        return input_shape[-1]

    def param_specs(self, input_shape):
        f, h, g = self._in(input_shape), self.hidden, self.gates
        return {
            "wi": Param((f, g * h), self.kernel_init, self.dtype),
            "wh": Param((h, g * h), self.recurrent_init, self.dtype),
            "b": Param((g * h,), self.bias_init, self.dtype),
        }

    def output_shape(self, input_shape):
        self._in(input_shape)
        return tuple(input_shape[:-1]) + (self.hidden,)

    def expected_input_shape(self, params, input_shape):
        return tuple(input_shape[:-1]) + (params["wi"].shape[0],)

    def initial_carry(self, batch_shape, dtype=np.float32):
        """A zero carry for inputs of shape ``batch_shape + (features,)``.

        Args:
          batch_shape: the input's leading axes, e.g. ``(batch,)``.
          dtype: the carry's dtype (default float32).

        Returns:
          Zeros of shape ``batch_shape + (hidden,)``.
        """
        return fnp.zeros(tuple(batch_shape) + (self.hidden,), dtype)

    def project(self, params, x):
        """The input's part of every gate, ``x @ wi``, for any leading axes.

        Recurrent layers compute it for all time steps at once, before the scan. The
        bias ``b`` is added by ``step``, inside the loop, where it fuses into the gates'
        elementwise work (added here, it would cost one more pass over the whole
        ``(time, batch, gates * hidden)`` projection).

        Args:
          params: the cell's params.
          x: inputs ``(..., features)``.

        Returns:
          An array ``(..., gates * hidden)``, the ``xp`` that ``step`` takes.
        """
        return fnp.matmul(x, params["wi"])

    def forward(self, params, x, *, carry=None):
        x = fnp.asarray(x)
        if carry is None:
            carry = self.initial_carry(tuple(x.shape[:-1]), x.dtype)
        return self.step(params, carry, self.project(params, x))


class SimpleRNNCell(_Cell):
    """An Elman RNN cell, one time step: ``h' = tanh(x @ wi + h @ wh + b)``.

    x: (batch, features), one time step (any leading axes work).

    Input ``(..., F)``, usually ``(batch, F)`` (no batch axis is required); the carry
    is ``h`` of shape ``(..., hidden)``. To run it over a sequence use ``nn.RNN`` (or
    ``nn.Recurrent(cell)``).

    Args:
      hidden: the size of the hidden state, a positive int.
      kernel_init: initializer of the input weights ``wi`` (default
        ``"lecun_normal"``).
      recurrent_init: initializer of the recurrent weights ``wh`` (default
        ``"orthogonal"``).
      bias_init: initializer of the biases (default ``"zeros"``).
      dtype: dtype of the parameters (default float32).
      name: the layer's key in a container (default ``simple_rnn_cell_<i>``).

    Returns:
      A layer. ``init(key, input_shape)`` returns ``(params, (..., hidden))`` with
      params ``{"wi": (F, H), "wh": (H, H), "b": (H,)}``. ``apply(params, x,
      carry=None)`` returns ``(new_carry, y)`` (here both ``h'``), starting from a zero
      carry when ``carry`` is None; it uses no key, train or state.

    Raises:
      ValueError: ``hidden`` is not a positive int.
      LayerError: an input with an unknown feature axis, or params of other shapes.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn, random
      >>> cell = nn.SimpleRNNCell(4)
      >>> params, out_shape = cell.init(random.key(0), (-1, 3))
      >>> h, y = cell.apply(params, fnp.ones((2, 3)))
      >>> out_shape, h.shape
      ((-1, 4), (2, 4))
    """

    def step(self, params, h, xp):
        """One time step from the projected input (``project``).

        Args:
          params: the cell's params.
          h: the carry, ``(..., hidden)``.
          xp: ``project(params, x)``, ``(..., hidden)``.

        Returns:
          ``(new_h, y)``, both ``h'``.
        """
        h = fnp.tanh(xp + fnp.matmul(h, params["wh"]) + params["b"])
        return h, h


class GRUCell(_Cell):
    """A gated recurrent unit, one time step (PyTorch's equations, gates r, z, n)::

    x: (batch, features), one time step (any leading axes work).

        r = sigmoid(xr + h @ wh_r + bh_r)      (xr = x @ wi_r + b_r, likewise xz, xn)
        z = sigmoid(xz + h @ wh_z + bh_z)
        n = tanh(xn + r * (h @ wh_n + bh_n))
        h' = (1 - z) * n + z * h

    Input ``(..., F)``, usually ``(batch, F)`` (no batch axis is required); the carry
    is ``h`` of shape ``(..., hidden)``. Over a sequence use ``nn.GRU``.

    Args:
      hidden: the size of the hidden state, a positive int.
      kernel_init: initializer of the input weights ``wi`` (default
        ``"lecun_normal"``).
      recurrent_init: initializer of the recurrent weights ``wh`` (default
        ``"orthogonal"``).
      bias_init: initializer of the biases (default ``"zeros"``).
      dtype: dtype of the parameters (default float32).
      name: the layer's key in a container (default ``gru_cell_<i>``).

    Returns:
      A layer. ``init(key, input_shape)`` returns ``(params, (..., hidden))`` with
      params ``{"wi": (F, 3H), "wh": (H, 3H), "b": (3H,), "bh": (3H,)}`` (``b`` the
      input bias, ``bh`` the recurrent one). ``apply(params, x, carry=None)`` returns
      ``(new_carry, y)`` (both ``h'``); it uses no key, train or state.

    Raises:
      ValueError: ``hidden`` is not a positive int.
      LayerError: an input with an unknown feature axis, or params of other shapes.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn, random
      >>> cell = nn.GRUCell(4)
      >>> params, _ = cell.init(random.key(0), (-1, 3))
      >>> params["wh"].shape
      (4, 12)
      >>> h, y = cell.apply(params, fnp.ones((2, 3)), carry=cell.initial_carry((2,)))
      >>> h.shape
      (2, 4)
    """

    gates = 3

    def param_specs(self, input_shape):
        specs = super().param_specs(input_shape)
        specs["bh"] = Param((3 * self.hidden,), self.bias_init, self.dtype)
        return specs

    def step(self, params, h, xp):
        """One time step from the projected input (``project``).

        Args:
          params: the cell's params.
          h: the carry, ``(..., hidden)``.
          xp: ``project(params, x)``, ``(..., 3 * hidden)``.

        Returns:
          ``(new_h, y)``, both ``h'``.
        """
        hp = fnp.matmul(h, params["wh"]) + params["bh"]
        xr, xz, xn = fnp.split(xp, 3, axis=-1)
        br, bz, bn = fnp.split(params["b"], 3)
        hr, hz, hn = fnp.split(hp, 3, axis=-1)
        r = sigmoid(xr + hr + br)
        z = sigmoid(xz + hz + bz)
        n = fnp.tanh(xn + bn + r * hn)
        h = (1 - z) * n + z * h
        return h, h


class LSTMCell(_Cell):
    """A long short-term memory cell, one time step, gates in the order i, f, g, o::

    x: (batch, features), one time step (any leading axes work).

        i, f, g, o = split(x @ wi + h @ wh + b)
        c' = sigmoid(f + forget_bias) * c + sigmoid(i) * tanh(g)
        h' = sigmoid(o) * tanh(c')

    Input ``(..., F)``, usually ``(batch, F)`` (no batch axis is required); the carry
    is ``(c, h)``, each ``(..., hidden)``. Over a sequence use ``nn.LSTM``.

    Args:
      hidden: the size of the hidden state, a positive int.
      forget_bias: added to the f gate (default 0; 1.0 is a common choice).
      **kw: as for the other cells: ``kernel_init`` (of ``wi``, default
        ``"lecun_normal"``), ``recurrent_init`` (of ``wh``, default ``"orthogonal"``),
        ``bias_init`` (default ``"zeros"``), ``dtype`` (default float32) and ``name``
        (default ``lstm_cell_<i>``).

    Returns:
      A layer. ``init(key, input_shape)`` returns ``(params, (..., hidden))`` with
      params ``{"wi": (F, 4H), "wh": (H, 4H), "b": (4H,)}``. ``apply(params, x,
      carry=None)`` returns ``((c', h'), h')``; it uses no key, train or state.

    Raises:
      ValueError: ``hidden`` is not a positive int.
      LayerError: an input with an unknown feature axis, or params of other shapes.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn, random
      >>> cell = nn.LSTMCell(4)
      >>> params, _ = cell.init(random.key(0), (-1, 3))
      >>> (c, h), y = cell.apply(params, fnp.ones((2, 3)))
      >>> c.shape, h.shape, y.shape
      ((2, 4), (2, 4), (2, 4))
    """

    gates = 4

    def __init__(self, hidden, *, forget_bias=0.0, **kw):
        super().__init__(hidden, **kw)
        self.forget_bias = float(forget_bias)

    def initial_carry(self, batch_shape, dtype=np.float32):
        """A zero carry ``(c, h)`` for inputs of shape ``batch_shape + (features,)``.

        Args:
          batch_shape: the input's leading axes, e.g. ``(batch,)``.
          dtype: the carry's dtype (default float32).

        Returns:
          ``(c, h)``, zeros of shape ``batch_shape + (hidden,)`` each.
        """
        # Two buffers, not one twice: a step that donates its state could not donate
        # the same buffer for both leaves.
        return (
            super().initial_carry(batch_shape, dtype),
            super().initial_carry(batch_shape, dtype),
        )

    def step(self, params, carry, xp):
        """One time step from the projected input (``project``).

        Args:
          params: the cell's params.
          carry: ``(c, h)``, each ``(..., hidden)``.
          xp: ``project(params, x)``, ``(..., 4 * hidden)``.

        Returns:
          ``((c', h'), h')``.
        """
        c, h = carry
        # split each term, then add: over a sequence, the per-step input's gates are
        # then read as slices of the stacked input (see lowering_control_flow), which
        # XLA:CPU fuses into one vectorized loop with the cell (one split of the sum
        # would be fused as several slices of one value: scalar code, ~7x slower)
        recurrent = fnp.split(fnp.matmul(h, params["wh"]), 4, axis=-1)
        bias = fnp.split(params["b"], 4)
        i, f, g, o = (a + r + b for a, r, b in zip(fnp.split(xp, 4, axis=-1), recurrent, bias))
        if self.forget_bias:
            f = f + self.forget_bias
        c = sigmoid(f) * c + sigmoid(i) * fnp.tanh(g)
        h = sigmoid(o) * fnp.tanh(c)
        return (c, h), h


class Recurrent(Layer):
    """Runs a cell over the time axis with ``lax.scan`` (as flax's RNN).

    x: (batch, time, features); one example: ``x[None]`` or ``fn.vmap``.

    Input ``(batch, time, features)``, batch first, rank exactly 3: the batch axis is
    required (for one sequence use ``x[None]``). Returns the outputs ``(batch, time,
    hidden)``. The params are the cell's (no extra nesting).

    ``apply(params, x, initial_carry=None, return_carry=False, seq_lengths=None)``:
    start from a zero carry unless one is given; with ``return_carry=True`` return
    ``(final_carry, ys)``. ``seq_lengths`` (integers, shape ``(batch,)``) marks padded
    sequences: example b has ``seq_lengths[b]`` valid steps at the start; past them the
    carry is left as it is and the output is zero, so the final carry is the one after
    the last valid step (and a reverse run starts at the last valid step).

    Args:
      cell: a ``SimpleRNNCell``, ``GRUCell`` or ``LSTMCell``.
      reverse: run from the last time step to the first (outputs stay in input order;
        default False).
      name: the layer's key in a container (default ``recurrent_<i>``).

    Returns:
      A layer. ``init(key, input_shape)`` returns ``(params, (batch, time, hidden))``
      with the cell's params. ``apply`` returns ``ys`` or ``(final_carry, ys)``; it
      uses no key, train or state.

    Raises:
      TypeError: ``cell`` is not a cell.
      LayerError: an input not of rank 3, or ``seq_lengths`` that are not integers of
        shape ``(batch,)``.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn, random
      >>> rnn = nn.Recurrent(nn.GRUCell(4), reverse=True)
      >>> params, out_shape = rnn.init(random.key(0), (-1, 6, 3))
      >>> out_shape
      (-1, 6, 4)
      >>> h, ys = rnn.apply(params, fnp.ones((2, 6, 3)), return_carry=True)
      >>> h.shape, ys.shape
      ((2, 4), (2, 6, 4))
    """

    # After an Embedding, Sequential passes its rows as a Lookup: the input projection
    # is then applied to the table, and each step picks its rows (funcnet.nn.lookup).
    takes_lookup = True

    def __init__(self, cell, *, reverse=False, name=None):
        super().__init__(name=name)
        if not isinstance(cell, _Cell):
            raise TypeError(
                f"Recurrent needs a cell (SimpleRNNCell, GRUCell, LSTMCell), got {cell!r}"
            )
        self.cell, self.reverse = cell, bool(reverse)

    def _check(self, input_shape):
        if len(input_shape) != 3:
            raise LayerError(
                f"expects an input of rank 3 (batch, time, features), got shape {input_shape}"
            )

    def param_specs(self, input_shape):
        self._check(input_shape)
        return self.cell.param_specs(input_shape)

    def output_shape(self, input_shape):
        self._check(input_shape)
        return self.cell.output_shape(input_shape)

    def expected_input_shape(self, params, input_shape):
        return self.cell.expected_input_shape(params, input_shape)

    def initial_carry(self, batch, dtype=np.float32):
        """The zero carry for ``batch`` sequences (what ``apply`` starts from).

        Args:
          batch: the batch size, an int.
          dtype: the carry's dtype (default float32).

        Returns:
          ``h`` of shape ``(batch, hidden)``; for an LSTM ``(c, h)``, two such arrays.
        """
        return self.cell.initial_carry((int(batch),), dtype)

    def forward(self, params, x, *, initial_carry=None, return_carry=False, seq_lengths=None):
        if isinstance(x, Lookup) and not x.worth_folding():
            x = x.gather()
        if not isinstance(x, Lookup):
            x = fnp.asarray(x)
        self._check(shape_of(x))
        zero = self.cell.initial_carry((x.shape[0],), x.dtype)
        if initial_carry is None:
            carry = zero
        else:
            _check_carry(initial_carry, zero)
            carry = initial_carry
        xs, step_input = self._step_inputs(params, x)
        if seq_lengths is None:
            carry, ys = lax.scan(
                lambda c, xt: self.cell.step(params, c, step_input(xt)),
                carry,
                xs,
                reverse=self.reverse,
            )
        else:
            valid = _valid_steps(seq_lengths, x.shape[0], x.shape[1])  # (time, batch)
            carry, ys = lax.scan(
                lambda c, inp: self._masked_step(params, c, step_input(inp[0]), inp[1]),
                carry,
                (xs, valid),
                reverse=self.reverse,
            )
        ys = fnp.moveaxis(ys, 0, 1)
        return (carry, ys) if return_carry else ys

    def _step_inputs(self, params, x):
        """The scanned inputs (time-major) and what a step makes of its slice.

        An array: the projection ``x @ wi`` of every step, computed before the scan (the
        input is moved to time-major first: it is gates*hidden/features times smaller
        than the projection); a step reads its slice as is. A Lookup: its ids; the table
        is projected once, and a step picks the rows of its ids.
        """
        if isinstance(x, Lookup):
            ids, pick = x.map_table(lambda table: self.cell.project(params, table)).picker()
            return fnp.moveaxis(ids, 1, 0), pick
        return self.cell.project(params, fnp.moveaxis(x, 1, 0)), lambda xt: xt

    def _masked_step(self, params, carry, xt, valid):
        new, y = self.cell.step(params, carry, xt)
        keep = valid[:, None]
        new = tree.tree_map(lambda n, o: fnp.where(keep, n, o), new, carry)
        return new, fnp.where(keep, y, fnp.zeros_like(y))


def _carry_shapes(carry):
    return tree.tree_map(lambda a: tuple(np.shape(a)), carry, is_leaf=lambda a: hasattr(a, "shape"))


def _check_carry(carry, zero):
    """``initial_carry`` must have the zero carry's structure and shapes."""
    expected = _carry_shapes(zero)
    try:
        got = _carry_shapes(carry)
    except Exception:  # not a pytree of arrays
        got = type(carry).__name__
    if got != expected:
        raise LayerError(
            f"initial_carry has shapes {got}, expected {expected} (for an LSTM "
            f"(c, h), each (batch, hidden); layer.initial_carry(batch) makes one)"
        )


def _valid_steps(seq_lengths, batch, time):
    lengths = fnp.asarray(seq_lengths)
    if lengths.shape != (batch,) or not (dtypes.is_int(lengths.dtype)):
        raise LayerError(
            f"seq_lengths must be integers of shape ({batch},) (one length per "
            f"example), got {lengths.dtype}{tuple(lengths.shape)}"
        )
    return fnp.arange(time)[:, None] < lengths[None, :]


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and another backwards, outputs concatenated.

    x: (batch, time, features); one example: ``x[None]`` or ``fn.vmap``.

    ``(batch, time, F) -> (batch, time, H_fwd + H_bwd)`` (as flax's Bidirectional);
    the batch axis is required. ``Bidirectional(nn.LSTM(64))`` runs the backward
    direction with the same kind of cell (its own parameters); pass ``backward_layer``
    to choose another. ``seq_lengths`` reaches both directions, so the backward one
    starts at each example's last valid step.

    Args:
      forward_layer: a recurrent layer (``RNN``, ``GRU``, ``LSTM``, ``Recurrent``).
      backward_layer: the layer for the other direction (default: a ``Recurrent`` of
        ``forward_layer``'s cell with the opposite ``reverse``).
      name: the layer's key in a container (default ``bidirectional_<i>``).

    Returns:
      A layer. ``init(key, input_shape)`` returns ``(params, (batch, time, H_fwd +
      H_bwd))`` with params ``{"forward": ..., "backward": ...}``. ``apply(params, x,
      seq_lengths=None)`` returns the concatenated outputs; it uses no key, train or
      state.

    Raises:
      TypeError: a direction that is not a recurrent layer.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn, random
      >>> bi = nn.Bidirectional(nn.GRU(4))
      >>> params, out_shape = bi.init(random.key(0), (-1, 6, 3))
      >>> out_shape, sorted(params)
      ((-1, 6, 8), ['backward', 'forward'])
      >>> bi.apply(params, fnp.ones((2, 6, 3))).shape
      (2, 6, 8)
    """

    takes_lookup = True  # both directions fold an Embedding's Lookup (see Recurrent)

    def __init__(self, forward_layer, backward_layer=None, *, name=None):
        super().__init__(name=name)
        if forward_layer is None:
            raise TypeError(
                "Bidirectional: forward_layer must be a recurrent layer (RNN, GRU, LSTM, "
                "Recurrent), got None"
            )
        for what, lyr in (("forward_layer", forward_layer), ("backward_layer", backward_layer)):
            if lyr is not None and not isinstance(lyr, Recurrent):
                raise TypeError(
                    f"Bidirectional: {what} must be a recurrent layer (RNN, GRU, "
                    f"LSTM, Recurrent), got {lyr!r}"
                )
        self.forward_layer = forward_layer
        self.backward_layer = (
            backward_layer
            if backward_layer is not None
            else Recurrent(forward_layer.cell, reverse=not forward_layer.reverse)
        )

    def param_specs(self, input_shape):
        return {
            "forward": self.forward_layer.param_specs(input_shape),
            "backward": self.backward_layer.param_specs(input_shape),
        }

    def output_shape(self, input_shape):
        f = self.forward_layer.output_shape(input_shape)
        b = self.backward_layer.output_shape(input_shape)
        return tuple(f[:-1]) + (f[-1] + b[-1],)

    def expected_input_shape(self, params, input_shape):
        return self.forward_layer.expected_input_shape(params["forward"], input_shape)

    def forward(self, params, x, *, seq_lengths=None):
        ys = [
            lyr.forward(params[k], x, seq_lengths=seq_lengths)
            for k, lyr in (("forward", self.forward_layer), ("backward", self.backward_layer))
        ]
        return fnp.concatenate(ys, axis=-1)


class RNN(Recurrent):
    """A ``SimpleRNNCell`` (tanh) over the time axis: ``(batch, time, F) -> (batch, time, H)``.

    x: (batch, time, features); one example: ``x[None]`` or ``fn.vmap``.

    ``Recurrent(SimpleRNNCell(hidden, **cell_kw), reverse=reverse)``; see ``Recurrent``
    for ``apply``'s keywords (``initial_carry``, ``return_carry``, ``seq_lengths``).
    Input batch first, rank exactly 3 (for one sequence use ``x[None]``).

    Args:
      hidden: the size of the hidden state, a positive int.
      reverse: run from the last time step to the first (default False).
      name: the layer's key in a container (default ``rnn_<i>``).
      **cell_kw: the cell's initializers and dtype (``kernel_init``,
        ``recurrent_init``, ``bias_init``, ``dtype``).

    Returns:
      A layer. ``init(key, input_shape)`` returns ``(params, (batch, time, hidden))``
      with params ``{"wi": (F, H), "wh": (H, H), "b": (H,)}``. ``apply(params, x)``
      returns ``(batch, time, hidden)``; it uses no key, train or state.

    Raises:
      LayerError: an input not of rank 3.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn, random
      >>> rnn = nn.RNN(4)
      >>> params, out_shape = rnn.init(random.key(0), (-1, 6, 3))
      >>> out_shape, rnn.apply(params, fnp.ones((2, 6, 3))).shape
      ((-1, 6, 4), (2, 6, 4))
    """

    cell_type = SimpleRNNCell

    def __init__(self, hidden, *, reverse=False, name=None, **cell_kw):
        super().__init__(self.cell_type(hidden, **cell_kw), reverse=reverse, name=name)
        self.hidden = self.cell.hidden


class GRU(RNN):
    """A ``GRUCell`` over the time axis: ``(batch, time, F) -> (batch, time, H)``.

    x: (batch, time, features); one example: ``x[None]`` or ``fn.vmap``.

    ``Recurrent(GRUCell(hidden, **cell_kw), reverse=reverse)``; see ``Recurrent`` for
    ``apply``'s keywords. Input batch first, rank exactly 3 (for one sequence use
    ``x[None]``).

    Args:
      hidden: the size of the hidden state, a positive int.
      reverse: run from the last time step to the first (default False).
      name: the layer's key in a container (default ``gru_<i>``).
      **cell_kw: the cell's initializers and dtype (``kernel_init``,
        ``recurrent_init``, ``bias_init``, ``dtype``).

    Returns:
      A layer. ``init(key, input_shape)`` returns ``(params, (batch, time, hidden))``
      with ``GRUCell``'s params. ``apply(params, x)`` returns ``(batch, time,
      hidden)``, or ``(h, ys)`` with ``return_carry=True``; it uses no key, train or
      state.

    Raises:
      LayerError: an input not of rank 3.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn, random
      >>> gru = nn.GRU(4)
      >>> params, out_shape = gru.init(random.key(0), (-1, 6, 3))
      >>> out_shape, gru.apply(params, fnp.ones((2, 6, 3))).shape
      ((-1, 6, 4), (2, 6, 4))
    """

    cell_type = GRUCell


class LSTM(RNN):
    """An ``LSTMCell`` over the time axis: ``(batch, time, F) -> (batch, time, H)``.

    x: (batch, time, features); one example: ``x[None]`` or ``fn.vmap``.

    ``Recurrent(LSTMCell(hidden, **cell_kw), reverse=reverse)``; see ``Recurrent`` for
    ``apply``'s keywords. Input batch first, rank exactly 3: the batch axis is
    required (for one sequence use ``x[None]``, or ``fn.vmap`` over
    ``lambda x: lstm.apply(params, x[None])[0]``).

    Args:
      hidden: the size of the hidden state, a positive int.
      reverse: run from the last time step to the first (default False).
      name: the layer's key in a container (default ``lstm_<i>``).
      **cell_kw: the cell's options: ``forget_bias``, ``kernel_init``,
        ``recurrent_init``, ``bias_init``, ``dtype``.

    Returns:
      A layer. ``init(key, input_shape)`` returns ``(params, (batch, time, hidden))``
      with params ``{"wi": (F, 4H), "wh": (H, 4H), "b": (4H,)}``. ``apply(params, x,
      *, initial_carry=None, return_carry=False, seq_lengths=None)`` returns ``ys``
      ``(batch, time, hidden)``, or ``((c, h), ys)`` with ``return_carry=True``; it
      uses no key, train or state.

    Raises:
      LayerError: an input not of rank 3, or bad ``seq_lengths``.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn, random
      >>> lstm = nn.LSTM(8)
      >>> params, out_shape = lstm.init(random.key(0), (-1, 10, 3))
      >>> out_shape, params["wi"].shape
      ((-1, 10, 8), (3, 32))
      >>> x = fnp.ones((2, 10, 3))
      >>> lstm.apply(params, x).shape
      (2, 10, 8)
      >>> (c, h), ys = lstm.apply(params, x, return_carry=True, seq_lengths=fnp.array([10, 4]))
      >>> h.shape, ys.shape
      ((2, 8), (2, 10, 8))
    """

    cell_type = LSTMCell
