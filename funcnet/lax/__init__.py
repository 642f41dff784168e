"""funcnet.lax: the primitives themselves, one thin function each (as jax.lax)."""

from funcnet.lax.elementwise import *  # noqa: F401,F403
from funcnet.lax.elementwise import (abs, add, convert_element_type, div, integer_pow,  # noqa: F401
                                     max, min, pow, round, select, select_n)
from funcnet.lax.indexing import (GatherDimensionNumbers, ScatterDimensionNumbers,  # noqa: F401
                                  gather, scatter, scatter_add, scatter_max, scatter_min,
                                  scatter_mul)
from funcnet.lax.linalg import (ConvDimensionNumbers, conv_general_dilated,  # noqa: F401
                                dot_general)
from funcnet.lax.reductions import (argmax, argmin, cummax, cummin, cumprod,  # noqa: F401
                                    cumsum, padtype_to_pads, reduce_and, reduce_max,
                                    reduce_min, reduce_or, reduce_prod, reduce_sum,
                                    reduce_window, sort)
from funcnet.lax.structural import (broadcast_in_dim, broadcasted_iota, concatenate,  # noqa: F401
                                    dynamic_slice, dynamic_update_slice, iota, pad, reshape,
                                    rev, slice, split, squeeze, transpose)
from funcnet.lax.control_flow import (cond, fori_loop, map, scan, switch,  # noqa: F401
                                      while_loop)
from funcnet.lax.windowed import optimization_barrier  # noqa: F401
