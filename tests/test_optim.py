"""funcnet.optim against optax (the reference, a test-only dependency): every
optimizer's 100-step trajectory with a float and with a schedule learning rate,
every schedule at many steps (eager and traced under jit), the combinators, gradient
accumulation, and the bad inputs."""

import doctest
import importlib
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import optim

RTOL, ATOL = 1e-5, 1e-7
STEPS = 100

# ----------------------------------------------------------------------------
# The problem: a small regression with a nested pytree of parameters
# (a dict holding a matrix and a vector, and a list), identical on both sides.
# ----------------------------------------------------------------------------
_rng = np.random.default_rng(0)
X = _rng.normal(size=(32, 5)).astype(np.float32)
Y = (X @ _rng.normal(size=(5, 3)) + 0.5).astype(np.float32)
P0 = {
    "dense": {
        "w": (0.1 * _rng.normal(size=(5, 3))).astype(np.float32),
        "b": np.full((3,), 0.2, np.float32),
    },
    "extra": [np.array([1.5, -0.7, 0.9], np.float32)],
}


def _loss(np_like, p, x, y):
    pred = x @ p["dense"]["w"] + p["dense"]["b"] * p["extra"][0]
    return np_like.mean((pred - y) ** 2) + 0.01 * np_like.sum(p["extra"][0] ** 2)


def fn_loss(p):
    return _loss(fnp, p, fnp.asarray(X), fnp.asarray(Y))


def jax_loss(p):
    return _loss(jnp, p, jnp.asarray(X), jnp.asarray(Y))


def _host(tree):
    return [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(tree)]


def run_funcnet(opt, steps=STEPS, params=P0):
    params = fn.tree.tree_map(fnp.asarray, params)
    state = opt.init(params)

    @fn.jit
    def step(params, state):
        grads = fn.grad(fn_loss)(params)
        updates, state = opt.update(grads, state, params)
        return optim.apply_updates(params, updates), state

    trajectory = []
    for _ in range(steps):
        params, state = step(params, state)
        trajectory.append(_host(params))
    return trajectory, state


def run_optax(opt, steps=STEPS, params=P0):
    params = jax.tree_util.tree_map(jnp.asarray, params)
    state = opt.init(params)

    @jax.jit
    def step(params, state):
        grads = jax.grad(jax_loss)(params)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    trajectory = []
    for _ in range(steps):
        params, state = step(params, state)
        trajectory.append(_host(params))
    return trajectory


def assert_same_trajectory(ours, ref, rtol=RTOL, atol=ATOL):
    assert len(ours) == len(ref)
    for t, (a, b) in enumerate(zip(ours, ref)):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=f"after step {t + 1}")
    # and the run did move the parameters
    assert not all(np.allclose(x, y) for x, y in zip(ours[-1], _host(P0)))


# ----------------------------------------------------------------------------
# Optimizers: the same call on both sides
# ----------------------------------------------------------------------------
MASK = {"dense": {"w": True, "b": False}, "extra": [False]}

# (name, learning rate, keyword arguments, schedule used in the schedule run)
OPTIMIZERS = [
    ("sgd", 0.05, {}, ("exponential_decay", {"transition_steps": 10, "decay_rate": 0.8})),
    ("sgd", 0.02, {"momentum": 0.9}, ("cosine_decay_schedule", {"decay_steps": 80, "alpha": 0.1})),
    (
        "sgd",
        0.02,
        {"momentum": 0.9, "nesterov": True},
        ("piecewise_constant_schedule", {"boundaries_and_scales": {30: 0.5, 60: 0.2}}),
    ),
    ("adam", 0.02, {}, ("warmup_cosine_decay_schedule", {"warmup_steps": 10, "decay_steps": 90})),
    (
        "adam",
        0.02,
        {"b1": 0.8, "b2": 0.99, "eps": 1e-6, "eps_root": 1e-8},
        ("linear_schedule", {"transition_steps": 60}),
    ),
    ("adamw", 0.02, {}, ("cosine_onecycle_schedule", {"transition_steps": 100})),
    (
        "adamw",
        0.02,
        {"weight_decay": 0.1, "mask": MASK},
        ("exponential_decay", {"transition_steps": 7, "decay_rate": 0.9, "staircase": True}),
    ),
    ("adamax", 0.02, {}, ("polynomial_schedule", {"power": 2, "transition_steps": 100})),
    ("nadam", 0.02, {}, ("warmup_cosine_decay_schedule", {"warmup_steps": 5, "decay_steps": 100})),
    ("rmsprop", 0.005, {}, ("cosine_decay_schedule", {"decay_steps": 100})),
    (
        "rmsprop",
        0.002,
        {"centered": True, "momentum": 0.9},
        ("exponential_decay", {"transition_steps": 20, "decay_rate": 0.5}),
    ),
    (
        "rmsprop",
        0.005,
        {"bias_correction": True, "eps_in_sqrt": False, "initial_scale": 0.1},
        ("linear_schedule", {"transition_steps": 100}),
    ),
    ("adagrad", 0.1, {}, ("cosine_decay_schedule", {"decay_steps": 100, "alpha": 0.2})),
    ("adadelta", 1.0, {}, ("exponential_decay", {"transition_steps": 50, "decay_rate": 0.5})),
    (
        "adadelta",
        1.0,
        {"weight_decay": 0.01, "rho": 0.95},
        ("piecewise_constant_schedule", {"boundaries_and_scales": {50: 0.5}}),
    ),
    ("lamb", 0.01, {}, ("warmup_cosine_decay_schedule", {"warmup_steps": 20, "decay_steps": 100})),
    ("lamb", 0.01, {"weight_decay": 0.01}, ("linear_schedule", {"transition_steps": 100})),
    ("lion", 0.002, {}, ("cosine_decay_schedule", {"decay_steps": 100})),
    (
        "lion",
        0.002,
        {"b1": 0.95, "b2": 0.98, "weight_decay": 0.0},
        ("cosine_onecycle_schedule", {"transition_steps": 100}),
    ),
]


def make_schedule(lib, kind, lr, kwargs):
    kwargs = dict(kwargs)
    if kind in ("warmup_cosine_decay_schedule",):
        return getattr(lib, kind)(init_value=0.0, peak_value=lr, **kwargs)
    if kind == "cosine_onecycle_schedule":
        return getattr(lib, kind)(peak_value=lr, **kwargs)
    if kind in ("linear_schedule", "polynomial_schedule"):
        return getattr(lib, kind)(init_value=lr, end_value=lr / 10, **kwargs)
    return getattr(lib, kind)(lr, **kwargs)


def _ids(case):
    name, _, kw, _ = case
    return name + "".join(f"-{k}" for k in kw)


@pytest.mark.parametrize("case", OPTIMIZERS, ids=[_ids(c) for c in OPTIMIZERS])
@pytest.mark.parametrize("lr_kind", ["float", "schedule"])
def test_optimizer_trajectory_matches_optax(case, lr_kind):
    name, lr, kwargs, (sched_kind, sched_kw) = case
    if lr_kind == "float":
        ours_lr = ref_lr = lr
    else:
        ours_lr = make_schedule(optim, sched_kind, lr, sched_kw)
        ref_lr = make_schedule(optax, sched_kind, lr, sched_kw)
    ours, state = run_funcnet(getattr(optim, name)(ours_lr, **kwargs))
    ref = run_optax(getattr(optax, name)(ref_lr, **kwargs))
    assert_same_trajectory(ours, ref)
    # every step counter in the state is an int32 array
    for leaf in fn.tree.tree_leaves(state):
        assert leaf.dtype in (np.float32, np.int32)


def test_learning_rate_as_keyword_and_defaults():
    ours, _ = run_funcnet(optim.adam(learning_rate=0.02), steps=20)
    ref = run_optax(optax.adam(0.02), steps=20)
    assert_same_trajectory(ours, ref)
    # adadelta: our default learning rate (1.0) descends; optax's default (None) ascends,
    # so compare against optax with the rate given.
    ours, _ = run_funcnet(optim.adadelta(), steps=20)
    ref = run_optax(optax.adadelta(1.0), steps=20)
    assert_same_trajectory(ours, ref)


def test_default_hyperparameters_equal_optax():
    import inspect

    for name in [
        "sgd",
        "adam",
        "adamw",
        "adamax",
        "nadam",
        "rmsprop",
        "adagrad",
        "lamb",
        "lion",
        "adadelta",
    ]:
        ours = inspect.signature(getattr(optim, name)).parameters
        ref = inspect.signature(getattr(optax, name)).parameters
        for pname, p in ours.items():
            if pname == "learning_rate" or p.default is inspect.Parameter.empty:
                continue
            assert pname in ref, (name, pname)
            assert p.default == ref[pname].default, (name, pname)


def test_issue_example():
    ours_opt = optim.chain(
        optim.clip_by_global_norm(1.0),
        optim.adamw(optim.warmup_cosine(1e-2, warmup=10, total=100), weight_decay=1e-4),
    )
    ref_opt = optax.chain(
        optax.clip_by_global_norm(1.0),
        optax.adamw(optax.warmup_cosine_decay_schedule(0.0, 1e-2, 10, 100), weight_decay=1e-4),
    )
    ours, _ = run_funcnet(ours_opt)
    assert_same_trajectory(ours, run_optax(ref_opt))


# ----------------------------------------------------------------------------
# Gradient transformations and combinators
# ----------------------------------------------------------------------------
def _by_path_no_bias(path):
    return path[-1] != "b"


def _optax_no_bias(params):
    return jax.tree_util.tree_map_with_path(
        lambda path, _: path[-1].key != "b" if hasattr(path[-1], "key") else True, params
    )


TRANSFORMS = {
    "clip_by_global_norm": (
        lambda: optim.chain(optim.clip_by_global_norm(0.5), optim.sgd(0.05, momentum=0.5)),
        lambda: optax.chain(optax.clip_by_global_norm(0.5), optax.sgd(0.05, momentum=0.5)),
    ),
    "clip": (
        lambda: optim.chain(optim.clip(0.1), optim.adam(0.01)),
        lambda: optax.chain(optax.clip(0.1), optax.adam(0.01)),
    ),
    "scale_and_schedule": (
        lambda: optim.chain(
            optim.scale(-0.05), optim.scale_by_schedule(optim.exponential_decay(1.0, 10, 0.9))
        ),
        lambda: optax.chain(
            optax.scale(-0.05), optax.scale_by_schedule(optax.exponential_decay(1.0, 10, 0.9))
        ),
    ),
    "masked_tree": (
        lambda: optim.chain(
            optim.masked(optim.adam(0.02), MASK),
            optim.masked(optim.sgd(0.01), {"dense": {"w": False, "b": True}, "extra": [True]}),
        ),
        lambda: optax.chain(
            optax.masked(optax.adam(0.02), MASK),
            optax.masked(optax.sgd(0.01), {"dense": {"w": False, "b": True}, "extra": [True]}),
        ),
    ),
    "masked_prefix_and_path": (
        lambda: optim.chain(
            optim.masked(optim.sgd(0.05), {"dense": True, "extra": False}),
            optim.masked(optim.scale(0.5), optim.by_path(_by_path_no_bias)),
        ),
        lambda: optax.chain(
            optax.masked(optax.sgd(0.05), {"dense": {"w": True, "b": True}, "extra": [False]}),
            optax.masked(optax.scale(0.5), _optax_no_bias),
        ),
    ),
    "multi_transform": (
        lambda: optim.multi_transform(
            {"frozen": optim.set_to_zero(), "fast": optim.adam(0.02), "slow": optim.sgd(0.001)},
            {"dense": {"w": "fast", "b": "slow"}, "extra": ["frozen"]},
        ),
        lambda: optax.multi_transform(
            {"frozen": optax.set_to_zero(), "fast": optax.adam(0.02), "slow": optax.sgd(0.001)},
            {"dense": {"w": "fast", "b": "slow"}, "extra": ["frozen"]},
        ),
    ),
    "multi_transform_by_path": (
        lambda: optim.multi_transform(
            {"a": optim.adam(0.02), "b": optim.rmsprop(0.005)},
            optim.by_path(lambda path: "b" if path[0] == "extra" else "a"),
        ),
        lambda: optax.multi_transform(
            {"a": optax.adam(0.02), "b": optax.rmsprop(0.005)},
            {"dense": {"w": "a", "b": "a"}, "extra": ["b"]},
        ),
    ),
    "add_decayed_weights_mask": (
        lambda: optim.chain(
            optim.add_decayed_weights(0.5, mask=optim.by_path(_by_path_no_bias)), optim.sgd(0.05)
        ),
        lambda: optax.chain(optax.add_decayed_weights(0.5, mask=_optax_no_bias), optax.sgd(0.05)),
    ),
    "add_decayed_weights_schedule": (
        lambda: optim.chain(
            optim.add_decayed_weights(optim.linear_schedule(0.5, 0.0, 50)), optim.sgd(0.05)
        ),
        lambda: optax.chain(
            optax.add_decayed_weights(optax.linear_schedule(0.5, 0.0, 50)), optax.sgd(0.05)
        ),
    ),
    "freeze": (
        lambda: optim.chain(optim.adam(0.02), optim.freeze({"dense": False, "extra": True})),
        lambda: optax.chain(
            optax.adam(0.02),
            optax.masked(optax.set_to_zero(), {"dense": {"w": False, "b": False}, "extra": [True]}),
        ),
    ),
    "multi_steps": (
        lambda: optim.MultiSteps(optim.adam(0.05), every_k_schedule=3),
        lambda: optax.MultiSteps(optax.adam(0.05), every_k_schedule=3),
    ),
    "multi_steps_sum_schedule": (
        lambda: optim.MultiSteps(
            optim.sgd(0.01, momentum=0.9),
            every_k_schedule=lambda step: fnp.where(step < 5, 2, 4),
            use_grad_mean=False,
        ),
        lambda: optax.MultiSteps(
            optax.sgd(0.01, momentum=0.9),
            every_k_schedule=lambda step: jnp.where(step < 5, 2, 4),
            use_grad_mean=False,
        ),
    ),
}


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_transformation_matches_optax(name):
    ours_factory, ref_factory = TRANSFORMS[name]
    ours, _ = run_funcnet(ours_factory(), steps=40)
    assert_same_trajectory(ours, run_optax(ref_factory(), steps=40))


def test_frozen_leaves_do_not_move():
    ours, _ = run_funcnet(
        optim.multi_transform(
            {"frozen": optim.set_to_zero(), "train": optim.adam(0.02)},
            optim.by_path(lambda path: "frozen" if path[0] == "extra" else "train"),
        ),
        steps=5,
    )
    np.testing.assert_array_equal(ours[-1][2], P0["extra"][0])  # leaves: b, w, extra[0]
    assert not np.allclose(ours[-1][0], P0["dense"]["b"])


def test_multi_steps_emits_every_k():
    opt = optim.MultiSteps(optim.sgd(1.0), every_k_schedule=3)
    state = opt.init({"w": fnp.zeros(2)})
    emitted = []
    for i in range(7):
        updates, state = opt.update({"w": fnp.full((2,), float(i))}, state)
        emitted.append(np.asarray(updates["w"]).tolist())
        assert bool(opt.has_updated(state)) == (i % 3 == 2)
    assert emitted == [[0, 0], [0, 0], [-1, -1], [0, 0], [0, 0], [-4, -4], [0, 0]]
    assert state.mini_step.dtype == np.int32 and int(state.gradient_step) == 2
    tx = opt.gradient_transformation()
    assert isinstance(tx, optim.GradientTransformation)


def test_global_norm_and_apply_updates():
    tree = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": [np.ones(4, np.float32)]}
    np.testing.assert_allclose(
        np.asarray(optim.global_norm(fn.tree.tree_map(fnp.asarray, tree))),
        np.asarray(optax.tree.norm(tree)),
        rtol=1e-6,
    )
    params = {"w": fnp.ones(3, dtype=fnp.bfloat16)}
    new = optim.apply_updates(params, {"w": fnp.full((3,), 0.5)})
    assert new["w"].dtype == fnp.bfloat16
    np.testing.assert_allclose(np.asarray(new["w"], np.float32), 1.5)


def test_clip_by_global_norm_values():
    grads = {"a": fnp.array([3.0, 0.0]), "b": fnp.array([[4.0]])}
    for max_norm in (1.0, 5.0, 10.0):
        ours, _ = optim.clip_by_global_norm(max_norm).update(grads, optim.EmptyState())
        ref, _ = optax.clip_by_global_norm(max_norm).update(
            jax.tree_util.tree_map(lambda x: jnp.asarray(np.asarray(x)), grads), ()
        )
        for x, y in zip(_host(ours), _host(ref)):
            np.testing.assert_allclose(x, y, rtol=1e-6)


def test_states_are_named_tuples_of_arrays():
    params = fn.tree.tree_map(fnp.asarray, P0)
    state = optim.adamw(1e-3).init(params)
    adam_state = state[0]
    assert isinstance(adam_state, optim.ScaleByAdamState)
    assert adam_state.count.dtype == np.int32 and adam_state.count.shape == ()
    assert fn.tree.tree_structure(adam_state.mu) == fn.tree.tree_structure(params)


def test_update_outside_jit_matches_inside():
    opt = optim.adamw(optim.cosine_decay_schedule(0.01, 10), weight_decay=0.01)
    params = {"w": fnp.asarray(P0["dense"]["w"])}
    grads = {"w": fnp.ones((5, 3))}
    state = opt.init(params)
    eager, _ = opt.update(grads, state, params)
    jitted, _ = fn.jit(opt.update)(grads, state, params)
    np.testing.assert_allclose(np.asarray(eager["w"]), np.asarray(jitted["w"]), rtol=1e-6)


# ----------------------------------------------------------------------------
# Schedules
# ----------------------------------------------------------------------------
SCHEDULES = [
    ("constant_schedule", {"value": 0.3}),
    (
        "piecewise_constant_schedule",
        {"init_value": 0.5, "boundaries_and_scales": {10: 0.5, 40: 0.1, 41: 2.0}},
    ),
    ("exponential_decay", {"init_value": 1.0, "transition_steps": 10, "decay_rate": 0.7}),
    (
        "exponential_decay",
        {
            "init_value": 1.0,
            "transition_steps": 10,
            "decay_rate": 0.7,
            "transition_begin": 15,
            "staircase": True,
            "end_value": 0.2,
        },
    ),
    (
        "exponential_decay",
        {"init_value": 0.1, "transition_steps": 20, "decay_rate": 1.5, "end_value": 0.4},
    ),
    (
        "polynomial_schedule",
        {
            "init_value": 1.0,
            "end_value": 0.01,
            "power": 3,
            "transition_steps": 80,
            "transition_begin": 10,
        },
    ),
    ("linear_schedule", {"init_value": 0.0, "end_value": 2.0, "transition_steps": 64}),
    ("cosine_decay_schedule", {"init_value": 0.2, "decay_steps": 90}),
    (
        "cosine_decay_schedule",
        {"init_value": 0.2, "decay_steps": 90, "alpha": 0.1, "exponent": 2.0},
    ),
    (
        "warmup_cosine_decay_schedule",
        {
            "init_value": 0.01,
            "peak_value": 1.0,
            "warmup_steps": 20,
            "decay_steps": 110,
            "end_value": 0.05,
        },
    ),
    (
        "warmup_cosine_decay_schedule",
        {"init_value": 0.0, "peak_value": 1.0, "warmup_steps": 0, "decay_steps": 100},
    ),
    ("cosine_onecycle_schedule", {"transition_steps": 100, "peak_value": 0.5}),
    (
        "cosine_onecycle_schedule",
        {
            "transition_steps": 77,
            "peak_value": 2.0,
            "pct_start": 0.5,
            "div_factor": 10.0,
            "final_div_factor": 100.0,
        },
    ),
    ("linear_onecycle_schedule", {"transition_steps": 100, "peak_value": 0.5}),
    (
        "piecewise_interpolate_schedule",
        {
            "interpolate_type": "cosine",
            "init_value": 1.0,
            "boundaries_and_scales": {20: 0.5, 60: 3.0},
        },
    ),
]
STEP_GRID = np.arange(0, 140, dtype=np.int32)


def _ref_values(kind, kwargs):
    sched = getattr(optax, kind)(**kwargs)
    return np.asarray(jax.jit(jax.vmap(sched))(jnp.asarray(STEP_GRID)), np.float32)


@pytest.mark.parametrize("kind,kwargs", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_schedule_matches_optax(kind, kwargs):
    ref = _ref_values(kind, kwargs)
    sched = getattr(optim, kind)(**kwargs)
    # traced: a vector of steps inside jit, and a scalar traced step inside jit
    traced = np.asarray(fn.jit(sched)(fnp.asarray(STEP_GRID)))
    traced = np.broadcast_to(traced, ref.shape)
    # rtol 1e-5: where a cosine nears its end, optax's dot-based evaluation and ours
    # (the same formula) round differently by a few ulps of a tiny difference.
    np.testing.assert_allclose(traced, ref, rtol=1e-5, atol=1e-8)
    scalar_jit = fn.jit(lambda s: fnp.asarray(sched(s), fnp.float32))
    for step in (0, 1, 9, 10, 11, 20, 55, 99, 100, 139):
        np.testing.assert_allclose(
            np.asarray(scalar_jit(fnp.asarray(step, fnp.int32))), ref[step], rtol=1e-5, atol=1e-8
        )
    # eager: Python ints
    for step in (0, 10, 41, 100):
        np.testing.assert_allclose(
            np.asarray(sched(step), np.float32), ref[step], rtol=1e-5, atol=1e-8
        )


def test_join_schedules_and_warmup_cosine_alias():
    ours = optim.join_schedules(
        [
            optim.linear_schedule(0.0, 1.0, 10),
            optim.constant_schedule(1.0),
            optim.exponential_decay(1.0, 5, 0.5),
        ],
        [10, 30],
    )
    ref = optax.join_schedules(
        [
            optax.linear_schedule(0.0, 1.0, 10),
            optax.constant_schedule(1.0),
            optax.exponential_decay(1.0, 5, 0.5),
        ],
        [10, 30],
    )
    steps = fnp.asarray(STEP_GRID)
    np.testing.assert_allclose(
        np.asarray(fn.jit(ours)(steps)),
        np.asarray(jax.vmap(ref)(jnp.asarray(STEP_GRID))),
        rtol=1e-6,
    )
    alias = optim.warmup_cosine(1e-3, warmup=100, total=10_000)
    full = optax.warmup_cosine_decay_schedule(0.0, 1e-3, 100, 10_000)
    grid = np.arange(0, 10_200, 97, dtype=np.int32)
    np.testing.assert_allclose(
        np.asarray(fn.jit(alias)(fnp.asarray(grid))),
        np.asarray(jax.vmap(full)(jnp.asarray(grid))),
        rtol=1e-5,
        atol=1e-10,
    )


# ----------------------------------------------------------------------------
# The user's own optimizer (the documented recipe) and every docstring example
# ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "module",
    [
        "funcnet.optim",
        "funcnet.optim._base",
        "funcnet.optim._schedules",
        "funcnet.optim._transforms",
        "funcnet.optim._combine",
        "funcnet.optim._accumulate",
        "funcnet.optim._sgd",
        "funcnet.optim._adam",
        "funcnet.optim._rms",
        "funcnet.optim._lion",
    ],
)
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_recipe_own_optimizer_trains():
    """The recipe in funcnet.optim's docstring, written as a test: a custom piece with
    its own NamedTuple state, chained with a scheduled learning rate, under jit."""
    from typing import Any, NamedTuple

    class SignMomentumState(NamedTuple):
        mu: Any

    def scale_by_sign_momentum(decay=0.9):
        def init(params):
            return SignMomentumState(fn.tree.tree_map(fnp.zeros_like, params))

        def update(grads, state, params=None):
            mu = fn.tree.tree_map(lambda g, m: decay * m + (1 - decay) * g, grads, state.mu)
            return fn.tree.tree_map(fnp.sign, mu), SignMomentumState(mu)

        return optim.GradientTransformation(init, update)

    opt = optim.chain(
        scale_by_sign_momentum(),
        optim.scale_by_learning_rate(optim.linear_schedule(0.01, 0.001, 100)),
    )
    trajectory, state = run_funcnet(opt)
    losses = [
        float(
            fn_loss(
                fn.tree.tree_unflatten(fn.tree.tree_structure(P0), [fnp.asarray(x) for x in leaves])
            )
        )
        for leaves in (trajectory[0], trajectory[-1])
    ]
    assert losses[1] < 0.5 * losses[0]
    assert int(state[1].count) == STEPS


# ----------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------
def _params():
    return fn.tree.tree_map(fnp.asarray, P0)


@pytest.mark.parametrize(
    "grads,path",
    [
        (
            {"dense": {"w": np.ones((5, 3)), "bias": np.ones(3)}, "extra": [np.ones(3)]},
            "['dense']['bias']",
        ),
        ({"dense": {"w": np.ones((5, 3))}, "extra": [np.ones(3)]}, "['dense']['b']"),
        (
            {"dense": {"w": np.ones((5, 3)), "b": np.ones(3)}, "extra": [np.ones(3), np.ones(1)]},
            "['extra'][1]",
        ),
        (
            {"dense": {"w": np.ones((3, 5)), "b": np.ones(3)}, "extra": [np.ones(3)]},
            "['dense']['w']",
        ),
    ],
)
@pytest.mark.parametrize(
    "name",
    [
        "sgd_momentum",
        "adam",
        "adamw",
        "lion",
        "rmsprop",
        "adagrad",
        "adadelta",
        "multi_steps",
        "masked",
    ],
)
def test_mismatched_gradient_tree_names_first_differing_path(name, grads, path):
    opt = {
        "sgd_momentum": optim.sgd(0.1, momentum=0.9),
        "adam": optim.adam(0.1),
        "adamw": optim.adamw(0.1),
        "lion": optim.lion(0.1),
        "rmsprop": optim.rmsprop(0.1),
        "adagrad": optim.adagrad(0.1),
        "adadelta": optim.adadelta(0.1),
        "multi_steps": optim.MultiSteps(optim.adam(0.1), 2),
        "masked": optim.masked(optim.adam(0.1), optim.by_path(lambda p: True)),
    }[name]
    params = _params()
    state = opt.init(params)
    grads = fn.tree.tree_map(lambda g: fnp.asarray(g.astype(np.float32)), grads)
    with pytest.raises(ValueError, match="does not match") as info:
        opt.update(grads, state, params)
    assert path in str(info.value)
    with pytest.raises(ValueError, match="does not match") as info:  # the same under jit
        fn.jit(opt.update)(grads, state, params)
    assert path in str(info.value)


ALL_OPTIMIZERS = [
    "sgd",
    "adam",
    "adamw",
    "adamax",
    "nadam",
    "rmsprop",
    "adagrad",
    "adadelta",
    "lamb",
    "lion",
]


@pytest.mark.parametrize("name", ALL_OPTIMIZERS)
@pytest.mark.parametrize("bad", [-1e-3, float("nan"), float("inf"), np.float32(-0.1)])
def test_bad_learning_rate_refused_at_construction(name, bad):
    with pytest.raises(ValueError, match="learning_rate"):
        getattr(optim, name)(bad)
    with pytest.raises(ValueError, match="learning_rate"):
        getattr(optim, name)(learning_rate=bad)


@pytest.mark.parametrize(
    "build,arg",
    [
        (lambda: optim.constant_schedule(-1.0), "value"),
        (lambda: optim.constant_schedule(float("nan")), "value"),
        (lambda: optim.exponential_decay(-0.1, 10, 0.5), "init_value"),
        (lambda: optim.exponential_decay(0.1, 0, 0.5), "transition_steps"),
        (lambda: optim.exponential_decay(0.1, 10, float("nan")), "decay_rate"),
        (lambda: optim.exponential_decay(0.1, 10, 0.0), "decay_rate"),
        (lambda: optim.exponential_decay(0.1, 10, 0.5, transition_begin=-3), "transition_begin"),
        (lambda: optim.polynomial_schedule(1.0, 0.0, 1, -5), "transition_steps"),
        (lambda: optim.linear_schedule(float("nan"), 0.0, 10), "init_value"),
        (lambda: optim.linear_schedule(1.0, -1.0, 10), "end_value"),
        (lambda: optim.linear_schedule(1.0, 0.0, 2.5), "transition_steps"),
        (lambda: optim.cosine_decay_schedule(1.0, 0), "decay_steps"),
        (lambda: optim.cosine_decay_schedule(-1.0, 10), "init_value"),
        (lambda: optim.warmup_cosine_decay_schedule(0.0, float("nan"), 10, 100), "peak_value"),
        (lambda: optim.warmup_cosine_decay_schedule(0.0, 1.0, -1, 100), "warmup_steps"),
        (lambda: optim.warmup_cosine_decay_schedule(0.0, 1.0, 100, 100), "decay_steps"),
        (lambda: optim.warmup_cosine(-1e-3, warmup=10, total=100), "peak_value"),
        (lambda: optim.warmup_cosine(1e-3, warmup=10, total=0), "decay_steps"),
        (lambda: optim.cosine_onecycle_schedule(0, 1.0), "transition_steps"),
        (lambda: optim.cosine_onecycle_schedule(100, -1.0), "peak_value"),
        (lambda: optim.piecewise_constant_schedule(1.0, {10: -0.5}), "scale"),
        (lambda: optim.piecewise_constant_schedule(1.0, {-10: 0.5}), "boundary"),
        (lambda: optim.join_schedules([optim.constant_schedule(1.0)] * 2, []), "boundaries"),
        (lambda: optim.join_schedules([optim.constant_schedule(1.0)] * 3, [20, 10]), "boundaries"),
    ],
)
def test_bad_schedule_arguments_refused(build, arg):
    with pytest.raises((ValueError, TypeError), match=arg):  # TypeError: a non-int step count
        build()


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="weight_decay"):
        optim.adamw(1e-3, weight_decay=float("nan"))
    with pytest.raises(ValueError, match="max_norm"):
        optim.clip_by_global_norm(-1.0)
    with pytest.raises(ValueError, match="every_k_schedule"):
        optim.MultiSteps(optim.sgd(0.1), 0)
    with pytest.raises(ValueError, match="needs params"):
        opt = optim.adamw(1e-3)
        opt.update(_params(), opt.init(_params()))
    with pytest.raises(ValueError, match="no transformation"):
        optim.multi_transform({"a": optim.sgd(0.1)}, optim.by_path(lambda p: "b")).init(_params())
    with pytest.raises(ValueError, match="mask"):
        optim.masked(optim.sgd(0.1), {"dense": True}).init(_params())
    opt = optim.sgd(0.0)  # a zero learning rate is allowed
    updates, _ = opt.update(_params(), opt.init(_params()))
    assert not math.isnan(float(updates["extra"][0][0]))
