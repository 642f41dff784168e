"""funcnet.optim: optimizers as pairs of pure functions over pytrees.

The contract (the whole of it)::

    opt = optim.adam(1e-3)                 # a GradientTransformation(init, update)
    state = opt.init(params)               # a small NamedTuple of arrays (a pytree)
    updates, state = opt.update(grads, state, params)
    params = optim.apply_updates(params, updates)

Optimizers are short chains of named pieces (adam is `scale_by_adam` then
`scale_by_learning_rate`), a learning rate is a float or a schedule
(`step -> value`, the step counted in the state as an int32), and the default
hyper-parameters are optax's, so the same call gives the same trajectory.

Writing your own optimizer
--------------------------
Write the piece that is new as a `GradientTransformation` whose state is a
NamedTuple, then chain it with the existing pieces. Here, "sign descent with
momentum": keep a running mean of the gradient, step along its sign.

>>> from typing import Any, NamedTuple
>>> import funcnet as fn, funcnet.numpy as fnp
>>> from funcnet import optim
>>> class SignMomentumState(NamedTuple):
...     mu: Any                                     # a tree like params
>>> def scale_by_sign_momentum(decay=0.9):
...     def init(params):
...         return SignMomentumState(mu=fn.tree.tree_map(fnp.zeros_like, params))
...     def update(grads, state, params=None):
...         mu = fn.tree.tree_map(lambda g, m: decay * m + (1 - decay) * g, grads, state.mu)
...         return fn.tree.tree_map(fnp.sign, mu), SignMomentumState(mu)
...     return optim.GradientTransformation(init, update)
>>> def sign_momentum(learning_rate, decay=0.9):
...     return optim.chain(scale_by_sign_momentum(decay),
...                        optim.scale_by_learning_rate(learning_rate))
>>> opt = sign_momentum(optim.linear_schedule(0.1, 0.0, transition_steps=100))
>>> params = {'w': fnp.array([1.0, -2.0])}
>>> state = opt.init(params)
>>> @fn.jit
... def step(params, state):
...     grads = fn.grad(lambda p: fnp.sum(p['w'] ** 2))(params)
...     updates, state = opt.update(grads, state, params)
...     return optim.apply_updates(params, updates), state
>>> for _ in range(3):
...     params, state = step(params, state)
>>> [round(x, 3) for x in params['w'].tolist()]
[0.703, -1.703]

The rules that make it compose: `init` and `update` are pure (no Python state, so
`jit` and checkpoints see everything); the state is a pytree; `update` returns
updates with the structure of `grads`; a step counter, if any, is an int32 array
in the state (`optim.safe_increment` advances it). A piece that needs the
parameters (weight decay, trust ratios) reads the `params` argument.
"""

from funcnet.optim._accumulate import MultiSteps as MultiSteps
from funcnet.optim._accumulate import MultiStepsState as MultiStepsState
from funcnet.optim._adam import ScaleByAdamState as ScaleByAdamState
from funcnet.optim._adam import adam as adam
from funcnet.optim._adam import adamax as adamax
from funcnet.optim._adam import adamw as adamw
from funcnet.optim._adam import lamb as lamb
from funcnet.optim._adam import nadam as nadam
from funcnet.optim._adam import scale_by_adam as scale_by_adam
from funcnet.optim._adam import scale_by_adamax as scale_by_adamax
from funcnet.optim._adam import scale_by_trust_ratio as scale_by_trust_ratio
from funcnet.optim._base import EmptyState as EmptyState
from funcnet.optim._base import GradientTransformation as GradientTransformation
from funcnet.optim._base import apply_updates as apply_updates
from funcnet.optim._base import global_norm as global_norm
from funcnet.optim._base import identity as identity
from funcnet.optim._base import safe_increment as safe_increment
from funcnet.optim._combine import MaskedNode as MaskedNode
from funcnet.optim._combine import MaskedState as MaskedState
from funcnet.optim._combine import MultiTransformState as MultiTransformState
from funcnet.optim._combine import by_path as by_path
from funcnet.optim._combine import chain as chain
from funcnet.optim._combine import freeze as freeze
from funcnet.optim._combine import masked as masked
from funcnet.optim._combine import multi_transform as multi_transform
from funcnet.optim._combine import set_to_zero as set_to_zero
from funcnet.optim._lion import ScaleByLionState as ScaleByLionState
from funcnet.optim._lion import lion as lion
from funcnet.optim._lion import scale_by_lion as scale_by_lion
from funcnet.optim._rms import ScaleByAdaDeltaState as ScaleByAdaDeltaState
from funcnet.optim._rms import ScaleByRmsState as ScaleByRmsState
from funcnet.optim._rms import ScaleByRssState as ScaleByRssState
from funcnet.optim._rms import ScaleByRStdDevState as ScaleByRStdDevState
from funcnet.optim._rms import adadelta as adadelta
from funcnet.optim._rms import adagrad as adagrad
from funcnet.optim._rms import rmsprop as rmsprop
from funcnet.optim._rms import scale_by_adadelta as scale_by_adadelta
from funcnet.optim._rms import scale_by_rms as scale_by_rms
from funcnet.optim._rms import scale_by_rss as scale_by_rss
from funcnet.optim._rms import scale_by_stddev as scale_by_stddev
from funcnet.optim._schedules import constant_schedule as constant_schedule
from funcnet.optim._schedules import cosine_decay_schedule as cosine_decay_schedule
from funcnet.optim._schedules import cosine_onecycle_schedule as cosine_onecycle_schedule
from funcnet.optim._schedules import exponential_decay as exponential_decay
from funcnet.optim._schedules import join_schedules as join_schedules
from funcnet.optim._schedules import linear_onecycle_schedule as linear_onecycle_schedule
from funcnet.optim._schedules import linear_schedule as linear_schedule
from funcnet.optim._schedules import piecewise_constant_schedule as piecewise_constant_schedule
from funcnet.optim._schedules import (
    piecewise_interpolate_schedule as piecewise_interpolate_schedule,
)
from funcnet.optim._schedules import polynomial_schedule as polynomial_schedule
from funcnet.optim._schedules import warmup_cosine as warmup_cosine
from funcnet.optim._schedules import warmup_cosine_decay_schedule as warmup_cosine_decay_schedule
from funcnet.optim._sgd import sgd as sgd
from funcnet.optim._transforms import ScaleByScheduleState as ScaleByScheduleState
from funcnet.optim._transforms import TraceState as TraceState
from funcnet.optim._transforms import WeightDecayScheduleState as WeightDecayScheduleState
from funcnet.optim._transforms import add_decayed_weights as add_decayed_weights
from funcnet.optim._transforms import clip as clip
from funcnet.optim._transforms import clip_by_global_norm as clip_by_global_norm
from funcnet.optim._transforms import scale as scale
from funcnet.optim._transforms import scale_by_learning_rate as scale_by_learning_rate
from funcnet.optim._transforms import scale_by_schedule as scale_by_schedule
from funcnet.optim._transforms import trace as trace
