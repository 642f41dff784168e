"""funcnet.onnx: export a function's inference program as an ONNX model.

`export(f, *example_args, path=None)` traces `f`, translates each equation of its
program with one rule per primitive (the `onnx_rules` table of `funcnet.onnx._graph`)
and returns an `onnx.ModelProto` that onnxruntime runs. The `onnx` package is optional
(`pip install funcnet[onnx]`): importing this module does not need it, exporting does.
"""

from funcnet.onnx._export import DEFAULT_OPSET, export
from funcnet.onnx._graph import UnsupportedPrimitiveError

__all__ = ["DEFAULT_OPSET", "UnsupportedPrimitiveError", "export"]
