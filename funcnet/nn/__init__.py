"""funcnet.nn: stateless layers as (init, apply) pairs, initializers, losses.

The layer protocol
------------------
A layer is an object with two methods::

    params, output_shape = layer.init(key, input_shape)
    y = layer.apply(params, x, *, key=None, train=False, **kw)

- ``init`` draws the parameters for inputs of ``input_shape`` and returns them with
  the output shape. Shapes are inferred: no layer asks for its input size. The batch
  size may be unknown (``-1`` or ``None``); unknown sizes stay -1 in the output shape.
- ``params`` is a plain nested dict of arrays with stable, readable names
  (``params["dense_1"]["w"]``); a layer without parameters returns ``{}``, and a
  container leaves it out of its dict. Nothing else is hidden in a layer object: it
  holds only hyper-parameters, so one object can be applied to many parameter trees.
- ``apply`` is a pure function of its arguments. ``key`` (a ``funcnet.random`` key)
  feeds randomness (Dropout when training); ``train`` (a Python bool) picks training
  behaviour; other keywords are layer-specific (``mask=``, ``context=``).
- ``apply`` checks the tree it is given: a wrong structure or shape, or an input
  that does not fit, raises ``nn.LayerError`` naming the layer's path, what it
  expected and what it got.

State (BatchNorm's running statistics) is passed explicitly, never hidden::

    params, state, out_shape = model.init_with_state(key, input_shape)
    y, state = model.apply(params, x, state=state, train=True, key=k)   # new state
    y, _ = model.apply(params, x, state=state)                          # evaluation

``init_with_state`` exists on every layer (``state`` is ``{}`` for a model without
state); ``apply`` returns ``(y, new_state)`` exactly when it is given ``state=``. State
is a separate tree from params, so ``grad`` of a loss sees only the params and an
optimizer never touches running statistics.

Every layer is a pure function of (params, x, key), so it composes with
``fn.jit``, ``fn.grad`` and ``fn.vmap``. Layers expect a leading batch axis; to map
over single examples, add it: ``fn.vmap(lambda x: model.apply(params, x[None])[0])``.

Example::

    import funcnet as fn, funcnet.numpy as fnp
    from funcnet import nn, random

    model = nn.Sequential([nn.Conv(32, (3, 3)), nn.relu, nn.MaxPool((2, 2)),
                           nn.Flatten(), nn.Dense(128), nn.relu, nn.Dropout(0.1),
                           nn.Dense(10)])
    params, out_shape = model.init(random.key(0), (-1, 8, 8, 1))   # out_shape (-1, 10)
    logits = model.apply(params, x, key=random.key(1), train=True)
    print(nn.summary(model, (-1, 8, 8, 1)))   # layers, shapes, parameters, FLOPs
    loss = lambda p: nn.losses.softmax_cross_entropy(model.apply(p, x), labels)
    grads = fn.grad(loss)(params)

Names
-----
In a container each child is named ``<kind>_<i>``, counted per kind
(``conv_0, dense_0, dense_1``), or by its ``name=``. The same layer object used twice
is one set of parameters (tied weights): its gradient is the sum over both uses.

Custom layers
-------------
With two functions (``nn.layer``)::

    def scale_init(key, input_shape):                    # with parameters
        return {"s": fnp.ones(input_shape[-1:])}, input_shape
    def scale_apply(params, x):
        return x * params["s"]
    Scale = nn.layer(scale_init, scale_apply)

    Double = nn.layer(apply=lambda params, x: 2 * x)   # without parameters
    nn.Sequential([nn.Dense(4), Scale, Double, nn.relu])  # (a plain function works too)

Or subclass ``nn.Layer`` and declare the parameters, which gives init, the checks in
apply and ``nn.reinit`` for free::

    class Scale(nn.Layer):
        def param_specs(self, input_shape):
            return {"s": nn.Param(input_shape[-1:], nn.initializers.ones)}
        def output_shape(self, input_shape):
            return input_shape
        def forward(self, params, x):
            return x * params["s"]
"""

from funcnet.nn import initializers, losses  # noqa: F401
from funcnet.nn._functions import logmeanexp, one_hot, standardize  # noqa: F401
from funcnet.nn.activations import (  # noqa: F401
    celu,
    elu,
    gelu,
    glu,
    hard_sigmoid,
    hard_silu,
    hard_swish,
    hard_tanh,
    identity,
    leaky_relu,
    log1mexp,
    log_sigmoid,
    log_softmax,
    logsumexp,
    mish,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    soft_sign,
    softmax,
    softplus,
    sparse_plus,
    sparse_sigmoid,
    squareplus,
    swish,
    tanh,
)
from funcnet.nn.attention import (  # noqa: F401
    MultiHeadAttention,
    causal_mask,
    dot_product_attention,
    padding_mask,
)
from funcnet.nn.combinators import Add, Concatenate, Parallel, Residual, Sequential  # noqa: F401
from funcnet.nn.conv import Conv, ConvTranspose  # noqa: F401
from funcnet.nn.core import Fn, Layer, LayerError, Param, as_layer, layer  # noqa: F401
from funcnet.nn.dropout import Dropout  # noqa: F401
from funcnet.nn.linear import Dense, Embedding  # noqa: F401
from funcnet.nn.lookup import Lookup  # noqa: F401
from funcnet.nn.model_summary import ModelSummary, summary  # noqa: F401
from funcnet.nn.normalization import BatchNorm, GroupNorm, LayerNorm, RMSNorm  # noqa: F401
from funcnet.nn.params import (  # noqa: F401
    count_params,
    filter_params,
    flatten_params,
    get_param,
    map_params,
    mask,
    paths,
    reinit,
    select,
    set_param,
    unflatten_params,
)
from funcnet.nn.pooling import AvgPool, GlobalAvgPool, GlobalMaxPool, MaxPool  # noqa: F401
from funcnet.nn.recurrent import (  # noqa: F401
    GRU,
    LSTM,
    RNN,
    Bidirectional,
    GRUCell,
    LSTMCell,
    Recurrent,
    SimpleRNNCell,
)
from funcnet.nn.reshape import Flatten, Reshape  # noqa: F401
