"""Graph rewrites of an exported ONNX: constants to initializers, float16 Convs, and int8 Q/DQ Convs.

INT8 is explicit quantization: QuantizeLinear/DequantizeLinear pairs around every Conv of the ONNX.
TensorRT 10 and 11 build int8 kernels from such Q/DQ graphs (TensorRT 11 has no other int8 route: its
implicit calibrators are gone), and onnxruntime runs the same file on a CPU, which is how its numbers
are checked here. Activations: symmetric per-tensor scales from the max |value| seen over a calibration
set (run through onnxruntime on the float32 graph); weights: symmetric per-output-channel scales. The
maps' backward convolutions are calibrated like the rest: their inputs are the per-action gradient
seeds scaled to unit max-abs (see ``analytic``), so one scale fits every action.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hotspot_core.backends.onnx_contract import INPUT_NAME
from hotspot_core.errors import BackendError

if TYPE_CHECKING:
    import onnx

__all__ = [
    "calibrate_conv_inputs",
    "constants_to_initializers",
    "convs_to_float16",
    "drop_unused_initializers",
    "initializer_map",
    "quantize_convs_int8",
]


def constants_to_initializers(proto: onnx.ModelProto) -> int:
    """Turn tensor-valued Constant nodes (how the exporter writes buffers) into initializers."""
    from onnx import numpy_helper

    keep, moved = [], 0
    for node in proto.graph.node:
        attrs = {a.name: a for a in node.attribute}
        if node.op_type == "Constant" and set(attrs) == {"value"}:
            proto.graph.initializer.append(
                numpy_helper.from_array(numpy_helper.to_array(attrs["value"].t), node.output[0])
            )
            moved += 1
        else:
            keep.append(node)
    del proto.graph.node[:]
    proto.graph.node.extend(keep)
    return moved


def initializer_map(proto: onnx.ModelProto) -> dict[str, Any]:
    """Initializers by name."""
    return {init.name: init for init in proto.graph.initializer}


def convs_to_float16(proto: onnx.ModelProto, ops: Sequence[str] = ("Conv",)) -> int:
    """Run every Conv in float16: weights stored as float16, Casts on its input and output.

    Everything else (ReLU masks, pooling, LSTM, the map sum) stays float32. Returns how many nodes changed.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits = initializer_map(proto)
    new_nodes = []
    changed = 0
    for node in proto.graph.node:
        if node.op_type not in ops:
            new_nodes.append(node)
            continue
        changed += 1
        for i, name in enumerate(node.input):
            if not name:
                continue
            if name in inits:  # constant weight or bias: store it as float16
                half = numpy_helper.from_array(numpy_helper.to_array(inits[name]).astype(np.float16), f"{name}__fp16")
                proto.graph.initializer.append(half)
                node.input[i] = half.name
            else:
                cast = f"{name}__to_fp16_{changed}"
                new_nodes.append(helper.make_node("Cast", [name], [cast], to=TensorProto.FLOAT16))
                node.input[i] = cast
        out = node.output[0]
        node.output[0] = f"{out}__fp16"
        new_nodes.append(node)
        new_nodes.append(helper.make_node("Cast", [node.output[0]], [out], to=TensorProto.FLOAT))
    del proto.graph.node[:]
    proto.graph.node.extend(new_nodes)
    drop_unused_initializers(proto)
    onnx.checker.check_model(proto)
    return changed


def drop_unused_initializers(proto: onnx.ModelProto) -> None:
    """Remove initializers no node or graph output uses (after a rewrite replaced them)."""
    used = {name for node in proto.graph.node for name in node.input}
    used |= {o.name for o in proto.graph.output}
    keep = [init for init in proto.graph.initializer if init.name in used]
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(keep)


def calibrate_conv_inputs(proto: onnx.ModelProto, calibration: np.ndarray, batch: int = 8) -> dict[str, float]:
    """max |x| of every Conv's data input over the calibration crops (float32 graph, onnxruntime CPU)."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    inits = initializer_map(proto)
    names = sorted({n.input[0] for n in proto.graph.node if n.op_type == "Conv" and n.input[0] not in inits})
    probe = onnx.ModelProto()
    probe.CopyFrom(proto)
    have = {o.name for o in probe.graph.output}
    probe.graph.output.extend(helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in names if n not in have)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep every tensor observable
    session = ort.InferenceSession(probe.SerializeToString(), so, providers=["CPUExecutionProvider"])
    outputs = [o.name for o in session.get_outputs()]
    amax = dict.fromkeys(names, 0.0)
    data = np.ascontiguousarray(calibration, np.float32)
    for i in range(0, len(data), batch):
        for name, value in zip(outputs, session.run(outputs, {INPUT_NAME: data[i : i + batch]})):
            if name in amax:
                amax[name] = max(amax[name], float(np.abs(value).max()))
    return amax


def quantize_convs_int8(proto: onnx.ModelProto, calibration: np.ndarray) -> int:
    """Insert int8 Q/DQ on the data input (per tensor) and weight (per output channel) of every Conv."""
    import onnx
    from onnx import helper, numpy_helper

    if calibration is None or len(calibration) == 0:
        raise BackendError("int8 quantization needs at least one calibration crop")
    amax = calibrate_conv_inputs(proto, calibration)
    inits = initializer_map(proto)
    new_nodes, dq_of, changed = [], {}, 0

    def const(name: str, array: np.ndarray) -> str:
        proto.graph.initializer.append(numpy_helper.from_array(array, name))
        return name

    for node in proto.graph.node:
        if node.op_type != "Conv":
            new_nodes.append(node)
            continue
        changed += 1
        x = node.input[0]
        if x not in dq_of:  # one Q/DQ pair per tensor, shared by every Conv reading it
            scale = const(f"{x}__act_scale", np.array(max(amax.get(x, 0.0), 1e-12) / 127.0, np.float32))
            zero = const(f"{x}__act_zero", np.array(0, np.int8))
            new_nodes.append(helper.make_node("QuantizeLinear", [x, scale, zero], [f"{x}__q"]))
            new_nodes.append(helper.make_node("DequantizeLinear", [f"{x}__q", scale, zero], [f"{x}__dq"]))
            dq_of[x] = f"{x}__dq"
        node.input[0] = dq_of[x]
        w_name = node.input[1]
        if w_name not in inits:
            raise BackendError(f"Conv {node.name or node.output[0]} has a non-constant weight; cannot quantize it")
        w = numpy_helper.to_array(inits[w_name]).astype(np.float32)
        w_amax = np.maximum(np.abs(w).reshape(w.shape[0], -1).max(axis=1), 1e-12)
        w_scale = (w_amax / 127.0).astype(np.float32)
        q = np.clip(np.round(w / w_scale[:, None, None, None]), -127, 127).astype(np.int8)
        qw = const(f"{w_name}__int8", q)
        ws = const(f"{w_name}__scale", w_scale)
        wz = const(f"{w_name}__zero", np.zeros_like(w_scale, dtype=np.int8))
        new_nodes.append(helper.make_node("DequantizeLinear", [qw, ws, wz], [f"{w_name}__dq"], axis=0))
        node.input[1] = f"{w_name}__dq"
        new_nodes.append(node)
    del proto.graph.node[:]
    proto.graph.node.extend(new_nodes)
    drop_unused_initializers(proto)
    onnx.checker.check_model(proto)
    return changed
