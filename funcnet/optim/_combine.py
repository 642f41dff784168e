"""Combinators: `chain` (one after another), `masked` (on a subset of the leaves),
`multi_transform` (a different transformation per labelled subset), `freeze`, and
`by_path` to build masks and labels from parameter paths."""

from typing import Any, NamedTuple

from funcnet import numpy as fnp
from funcnet import tree as _tree
from funcnet.optim._base import (
    GradientTransformation,
    check_tree_match,
    init_empty_state,
    tree_mismatch,
)


def chain(*transforms) -> GradientTransformation:
    """Applies `transforms` one after the other; the state is the tuple of theirs.

    Args:
      *transforms: `GradientTransformation`s.

    Returns:
      A `GradientTransformation`.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import optim
      >>> opt = optim.chain(optim.clip(1.0), optim.scale(-0.1))
      >>> round(float(opt.update(fnp.array([5.0]), opt.init(fnp.zeros(1)))[0][0]), 4)
      -0.1
    """
    init_fns = [t.init for t in transforms]
    update_fns = [t.update for t in transforms]

    def init(params):
        return tuple(f(params) for f in init_fns)

    def update(grads, state, params=None):
        if not isinstance(state, tuple) or len(state) != len(update_fns):
            raise ValueError(
                f"chain: expected a state of {len(update_fns)} parts (one per "
                f"transformation, as made by init), got {type(state).__name__}."
            )
        new_state = []
        for s, f in zip(state, update_fns):
            grads, s = f(grads, s, params)
            new_state.append(s)
        return grads, tuple(new_state)

    return GradientTransformation(init, update)


class MaskedNode(NamedTuple):
    """Stands where `masked` hides a leaf from the inner transformation (no leaves)."""


class MaskedState(NamedTuple):
    inner_state: Any


def _mask_tree(mask, tree, owner):
    mask_tree = mask(tree) if callable(mask) else mask
    try:
        return mask_tree, _tree.tree_map(lambda m, p: p if m else MaskedNode(), mask_tree, tree)
    except ValueError:
        why = tree_mismatch(tree, mask_tree) or "different containers"
        raise ValueError(f"{owner}: the mask (or labels) does not fit the tree: {why}.") from None


def masked(inner, mask) -> GradientTransformation:
    """Applies `inner` only to the leaves where `mask` is True; the others pass unchanged.

    Args:
      inner: a `GradientTransformation`.
      mask: a pytree of bools with the structure of the params (or a prefix of it:
        one bool then stands for a whole subtree), or a callable `params -> mask`
        such as `by_path(lambda path: path[-1] != 'b')`.

    Returns:
      A `GradientTransformation` whose state is a `MaskedState`.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import optim
      >>> params = {'w': fnp.ones(1), 'b': fnp.ones(1)}
      >>> opt = optim.masked(optim.scale(10.0), {'w': True, 'b': False})
      >>> u, _ = opt.update(params, opt.init(params))
      >>> u['w'].tolist(), u['b'].tolist()
      ([10.0], [1.0])
    """

    def init(params):
        _, masked_params = _mask_tree(mask, params, "masked")
        return MaskedState(inner_state=inner.init(masked_params))

    def update(grads, state, params=None):
        if params is not None:
            check_tree_match(grads, params, against="params", owner="masked")
        mask_tree, masked_grads = _mask_tree(mask, grads, "masked")
        masked_params = None if params is None else _mask_tree(mask_tree, params, "masked")[1]
        new_grads, inner_state = inner.update(masked_grads, state.inner_state, masked_params)
        grads = _tree.tree_map(lambda m, new, old: new if m else old, mask_tree, new_grads, grads)
        return grads, MaskedState(inner_state=inner_state)

    return GradientTransformation(init, update)


class MultiTransformState(NamedTuple):
    inner_states: Any  # {label: MaskedState}


def multi_transform(transforms, param_labels) -> GradientTransformation:
    """A different transformation for each labelled part of the parameters.

    Args:
      transforms: a dict `{label: GradientTransformation}`.
      param_labels: a pytree of labels with the structure of the params (or a
        prefix of it), or a callable `params -> labels` (see `by_path`).

    Returns:
      A `GradientTransformation` whose state is a `MultiTransformState`.

    Example (freeze the embedding, a smaller rate for the head):
      >>> import funcnet.numpy as fnp
      >>> from funcnet import optim
      >>> params = {'embed': fnp.ones(2), 'body': fnp.ones(2), 'head': fnp.ones(2)}
      >>> opt = optim.multi_transform(
      ...     {'frozen': optim.set_to_zero(), 'base': optim.sgd(0.1), 'slow': optim.sgd(0.01)},
      ...     {'embed': 'frozen', 'body': 'base', 'head': 'slow'})
      >>> u, _ = opt.update(params, opt.init(params))
      >>> [round(u[k].tolist()[0], 4) for k in ('embed', 'body', 'head')]
      [0.0, -0.1, -0.01]
    """
    transforms = dict(transforms)

    def labels_of(tree):
        return param_labels(tree) if callable(param_labels) else param_labels

    def parts(labels):
        missing = set(_tree.tree_leaves(labels)) - set(transforms)
        if missing:
            raise ValueError(
                f"multi_transform: labels {sorted(map(str, missing))} have no "
                f"transformation (transforms has {sorted(map(str, transforms))})."
            )
        return {
            label: masked(t, _tree.tree_map(lambda x, lab=label: x == lab, labels))
            for label, t in transforms.items()
        }

    def init(params):
        return MultiTransformState(
            {label: t.init(params) for label, t in parts(labels_of(params)).items()}
        )

    def update(grads, state, params=None):
        new_states = {}
        for label, t in parts(labels_of(grads)).items():
            grads, new_states[label] = t.update(grads, state.inner_states[label], params)
        return grads, MultiTransformState(new_states)

    return GradientTransformation(init, update)


def set_to_zero() -> GradientTransformation:
    """Replaces every update by zeros: with `masked` or `multi_transform`, this
    freezes a part of the parameters.

    Returns:
      A `GradientTransformation` with an `EmptyState`.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import optim
      >>> opt = optim.set_to_zero()
      >>> opt.update(fnp.ones(2), opt.init(None))[0].tolist()
      [0.0, 0.0]
    """

    def update(grads, state, params=None):
        del params
        return _tree.tree_map(fnp.zeros_like, grads), state

    return GradientTransformation(init_empty_state, update)


def freeze(mask) -> GradientTransformation:
    """Zeroes the updates of the leaves where `mask` is True (they stay as they are).

    Args:
      mask: as in `masked`: a pytree of bools, or a callable `params -> mask`.

    Returns:
      A `GradientTransformation`; put it before or after the optimizer in a `chain`.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import optim
      >>> params = {'w': fnp.ones(1), 'b': fnp.ones(1)}
      >>> opt = optim.chain(optim.sgd(0.1), optim.freeze({'w': False, 'b': True}))
      >>> u, _ = opt.update(params, opt.init(params))
      >>> [round(u[k].tolist()[0], 4) for k in ('w', 'b')]
      [-0.1, 0.0]
    """
    return masked(set_to_zero(), mask)


def _key_of(entry):
    for attr in ("key", "idx", "name"):
        if hasattr(entry, attr):
            return getattr(entry, attr)
    return entry


def by_path(fn):
    """Turns `fn(path) -> value` into `params -> pytree of values`, for `masked`
    (values are bools) and `multi_transform` (values are labels). `path` is the tuple
    of keys leading to a leaf: `('dense', 'w')` for `params['dense']['w']`, with
    list and tuple positions as ints.

    Args:
      fn: a function of a path tuple.

    Returns:
      A callable `params -> pytree` with one value per leaf.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import optim
      >>> no_bias = optim.by_path(lambda path: path[-1] != 'b')
      >>> no_bias({'dense': {'w': fnp.ones(1), 'b': fnp.ones(1)}})
      {'dense': {'b': False, 'w': True}}
    """

    def make(params):
        return _tree.tree_map_with_path(lambda path, _: fn(tuple(_key_of(e) for e in path)), params)

    return make
