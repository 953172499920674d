"""Writes a single-subgraph TFLite FlatBuffer from a small in-memory description.

Uses the generated builder functions of the `tflite` PyPI package (schema bindings) on top of
`flatbuffers.Builder`. Only what the single-op oracle models need is supported.
"""
import flatbuffers
import numpy as np
import tflite
from tflite.BuiltinOperator import BuiltinOperator
from tflite.BuiltinOptions import BuiltinOptions
from tflite.TensorType import TensorType

DTYPES = {
    "int8": (TensorType.INT8, np.int8),
    "float32": (TensorType.FLOAT32, np.float32),
    "int32": (TensorType.INT32, np.int32),
    "int64": (TensorType.INT64, np.int64),
}

# op name -> (options table name or None, BuiltinOptions union name)
OPTIONS = {
    "CONV_2D": "Conv2DOptions",
    "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
    "FULLY_CONNECTED": "FullyConnectedOptions",
    "ADD": "AddOptions",
    "MUL": "MulOptions",
    "MAX_POOL_2D": "Pool2DOptions",
    "AVERAGE_POOL_2D": "Pool2DOptions",
    "MEAN": "ReducerOptions",
    "PAD": "PadOptions",
    "PADV2": "PadV2Options",
    "CONCATENATION": "ConcatenationOptions",
    "RESHAPE": "ReshapeOptions",
    "SOFTMAX": "SoftmaxOptions",
    "LEAKY_RELU": "LeakyReluOptions",
    "RESIZE_BILINEAR": "ResizeBilinearOptions",
    "RESIZE_NEAREST_NEIGHBOR": "ResizeNearestNeighborOptions",
    "QUANTIZE": "QuantizeOptions",
    "DEQUANTIZE": "DequantizeOptions",
    "HARD_SWISH": "HardSwishOptions",
    "SHAPE": "ShapeOptions",
    "STRIDED_SLICE": "StridedSliceOptions",
    "PACK": "PackOptions",
}


def _int_vector(b, start_fn, values, kind="int32"):
    start_fn(b, len(values))
    for v in reversed(list(values)):
        if kind == "int32":
            b.PrependInt32(int(v))
        elif kind == "int64":
            b.PrependInt64(int(v))
        elif kind == "float32":
            b.PrependFloat32(float(v))
        elif kind == "uint8":
            b.PrependUint8(int(v))
    return b.EndVector()


def _options(b, table, fields):
    """fields: dict FieldName -> scalar or list of ints (vectors are int32)."""
    vectors = {}
    for k, v in fields.items():
        if isinstance(v, (list, tuple)):
            vectors[k] = _int_vector(b, getattr(tflite, f"{table}Start{k}Vector"), v)
    getattr(tflite, f"{table}Start")(b)
    for k, v in fields.items():
        add = getattr(tflite, f"{table}Add{k}")
        add(b, vectors[k] if k in vectors else v)
    return getattr(tflite, f"{table}End")(b)


def build_model(case):
    """case: dict with 'op', 'tensors', 'op_inputs', 'op_outputs', 'inputs', 'outputs',
    'options'. Each tensor: name, shape, dtype, and optionally scale (list), zero_point (list),
    qdim, data (numpy array for constants)."""
    b = flatbuffers.Builder(4096)
    tensors = case["tensors"]

    # Buffers: 0 is the empty sentinel; each constant tensor gets its own.
    buffer_data = [None]
    tensor_buffer = []
    for t in tensors:
        if t.get("data") is not None:
            np_type = DTYPES[t["dtype"]][1]
            buffer_data.append(np.ascontiguousarray(t["data"], dtype=np_type).tobytes())
            tensor_buffer.append(len(buffer_data) - 1)
        else:
            tensor_buffer.append(0)

    buffer_offsets = []
    for data in buffer_data:
        if data:
            b.StartVector(1, len(data), 16)
            b.head = b.head - len(data)
            b.Bytes[b.head:b.head + len(data)] = data
            vec = b.EndVector()
            tflite.BufferStart(b)
            tflite.BufferAddData(b, vec)
        else:
            tflite.BufferStart(b)
        buffer_offsets.append(tflite.BufferEnd(b))

    tensor_offsets = []
    for i, t in enumerate(tensors):
        name = b.CreateString(t["name"])
        shape = _int_vector(b, tflite.TensorStartShapeVector, t["shape"])
        quant = None
        if t.get("scale") is not None:
            sc = _int_vector(b, tflite.QuantizationParametersStartScaleVector, t["scale"],
                             "float32")
            zp = _int_vector(b, tflite.QuantizationParametersStartZeroPointVector,
                             t["zero_point"], "int64")
            tflite.QuantizationParametersStart(b)
            tflite.QuantizationParametersAddScale(b, sc)
            tflite.QuantizationParametersAddZeroPoint(b, zp)
            tflite.QuantizationParametersAddQuantizedDimension(b, t.get("qdim", 0))
            quant = tflite.QuantizationParametersEnd(b)
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shape)
        tflite.TensorAddType(b, DTYPES[t["dtype"]][0])
        tflite.TensorAddBuffer(b, tensor_buffer[i])
        tflite.TensorAddName(b, name)
        if quant is not None:
            tflite.TensorAddQuantization(b, quant)
        tensor_offsets.append(tflite.TensorEnd(b))

    op = case["op"]
    code = getattr(BuiltinOperator, op)
    table = OPTIONS.get(op)
    opts = _options(b, table, case.get("options", {})) if table else None
    op_in = _int_vector(b, tflite.OperatorStartInputsVector, case["op_inputs"])
    op_out = _int_vector(b, tflite.OperatorStartOutputsVector, case["op_outputs"])
    tflite.OperatorStart(b)
    tflite.OperatorAddOpcodeIndex(b, 0)
    tflite.OperatorAddInputs(b, op_in)
    tflite.OperatorAddOutputs(b, op_out)
    if opts is not None:
        tflite.OperatorAddBuiltinOptionsType(b, getattr(BuiltinOptions, table))
        tflite.OperatorAddBuiltinOptions(b, opts)
    operator = tflite.OperatorEnd(b)

    sg_tensors = _offset_vector(b, tflite.SubGraphStartTensorsVector, tensor_offsets)
    sg_in = _int_vector(b, tflite.SubGraphStartInputsVector, case["inputs"])
    sg_out = _int_vector(b, tflite.SubGraphStartOutputsVector, case["outputs"])
    sg_ops = _offset_vector(b, tflite.SubGraphStartOperatorsVector, [operator])
    sg_name = b.CreateString("main")
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, sg_tensors)
    tflite.SubGraphAddInputs(b, sg_in)
    tflite.SubGraphAddOutputs(b, sg_out)
    tflite.SubGraphAddOperators(b, sg_ops)
    tflite.SubGraphAddName(b, sg_name)
    subgraph = tflite.SubGraphEnd(b)

    tflite.OperatorCodeStart(b)
    tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
    tflite.OperatorCodeAddBuiltinCode(b, code)
    tflite.OperatorCodeAddVersion(b, case.get("op_version", 1))
    opcode = tflite.OperatorCodeEnd(b)

    codes = _offset_vector(b, tflite.ModelStartOperatorCodesVector, [opcode])
    subgraphs = _offset_vector(b, tflite.ModelStartSubgraphsVector, [subgraph])
    buffers = _offset_vector(b, tflite.ModelStartBuffersVector, buffer_offsets)
    desc = b.CreateString("facecam oracle single-op model")
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, codes)
    tflite.ModelAddSubgraphs(b, subgraphs)
    tflite.ModelAddDescription(b, desc)
    tflite.ModelAddBuffers(b, buffers)
    model = tflite.ModelEnd(b)
    b.Finish(model, file_identifier=b"TFL3")
    return bytes(b.Output())


def _offset_vector(b, start_fn, offsets):
    start_fn(b, len(offsets))
    for o in reversed(offsets):
        b.PrependUOffsetTRelative(o)
    return b.EndVector()
