"""funcnet.lax: the primitives themselves, one thin function each (as jax.lax), and
jax.lax's thin wrappers over them, with jax.lax's names, argument order and defaults."""

from funcnet.lax.elementwise import *  # noqa: F401,F403
from funcnet.lax.elementwise import (RoundingMethod, abs, add, clamp,  # noqa: F401
                                     convert_element_type, div, integer_pow, max, min,
                                     nextafter, pow, reciprocal, round, select, select_n)
from funcnet.lax.indexing import (GatherDimensionNumbers, GatherScatterMode,  # noqa: F401
                                  ScatterDimensionNumbers, gather, scatter, scatter_add,
                                  scatter_max, scatter_min, scatter_mul, scatter_sub)
from funcnet.lax.linalg import (ConvDimensionNumbers, Precision, batch_matmul,  # noqa: F401
                                conv, conv_general_dilated, conv_with_general_padding, dot,
                                dot_general)
from funcnet.lax.reductions import (argmax, argmin, cummax, cummin, cumprod,  # noqa: F401
                                    cumsum, padtype_to_pads, reduce, reduce_and, reduce_max,
                                    reduce_min, reduce_or, reduce_prod, reduce_sum,
                                    reduce_window, sort, sort_key_val)
from funcnet.lax.structural import (broadcast_in_dim, broadcasted_iota, concatenate,  # noqa: F401
                                    dynamic_slice, dynamic_update_slice, iota, pad, reshape,
                                    rev, slice, split, squeeze, transpose)
from funcnet.lax.convenience import (associative_scan, broadcast,  # noqa: F401
                                     broadcast_shapes, broadcast_to_rank, collapse,
                                     conv_dimension_numbers, dtype, dynamic_index_in_dim,
                                     dynamic_slice_in_dim, dynamic_update_index_in_dim,
                                     dynamic_update_slice_in_dim, expand_dims, full,
                                     full_like, index_in_dim, slice_in_dim, stack, tile,
                                     unstack)
from funcnet.lax.control_flow import (cond, fori_loop, map, scan, switch,  # noqa: F401
                                      while_loop)
from funcnet.lax.windowed import optimization_barrier, stop_gradient  # noqa: F401
