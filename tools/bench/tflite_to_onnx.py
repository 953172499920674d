"""Turns a full-int8 TFLite model into an ONNX QDQ model with the same scales and zero points.

Every TFLite tensor becomes an int8 ONNX tensor with its own scale and zero point; every TFLite
operator becomes DequantizeLinear on its inputs -> the float ONNX operator -> QuantizeLinear on its
output (the form ONNX Runtime's QDQ transformers fuse into integer kernels). Constant weights stay
int8 initializers behind a DequantizeLinear with a per-channel axis where the TFLite tensor is
per-channel; int32 biases get DequantizeLinear with scale input_scale * weight_scale.

Layout: rank-4 activations are kept NCHW inside the graph. The int8 inputs are transposed
NHWC -> NCHW right at the graph input, RESHAPE transposes back to NHWC before it flattens (so the
element order matches TFLite), and rank-4 outputs are transposed back to NHWC.

Supported operators: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, MAX_POOL_2D, AVERAGE_POOL_2D,
MEAN, SOFTMAX, PAD, CONCATENATION, RESHAPE, PRELU (fused RELU / RELU6 / RELU_N1_TO_1 activations
included), QUANTIZE of a float32 graph input and DEQUANTIZE to a float32 graph output (QuantizeLinear /
DequantizeLinear), and SHAPE / STRIDED_SLICE / PACK when they only compute a RESHAPE's shape (the
converted RESHAPE takes the output tensor's static shape, so they are dropped).

Usage: python tools/bench/tflite_to_onnx.py MODEL.tflite... [--out-dir DIR] [--validate]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import onnx
import tflite
from onnx import TensorProto, helper, numpy_helper

from ort_session import LEVELS, ort_session

OPSET = 17
NHWC_TO_NCHW = [0, 3, 1, 2]
NCHW_TO_NHWC = [0, 2, 3, 1]
AXIS_NHWC_TO_NCHW = {0: 0, 1: 2, 2: 3, 3: 1}

_TFL_TYPES = {tflite.TensorType.INT8: np.int8, tflite.TensorType.UINT8: np.uint8,
              tflite.TensorType.INT32: np.int32, tflite.TensorType.INT64: np.int64,
              tflite.TensorType.FLOAT32: np.float32, tflite.TensorType.INT16: np.int16}
_ONNX_TYPES = {np.int8: TensorProto.INT8, np.uint8: TensorProto.UINT8, np.int32: TensorProto.INT32,
               np.float32: TensorProto.FLOAT, np.int16: TensorProto.INT16, np.int64: TensorProto.INT64}
_OP_NAMES = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}


class UnsupportedModel(Exception):
    pass


def _options(op, cls):
    table = op.BuiltinOptions()
    opts = cls()
    if table is not None:
        opts.Init(table.Bytes, table.Pos)
    return opts


def _same_pads(in_size, kernel, stride, dilation):
    out = (in_size + stride - 1) // stride
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - in_size, 0)
    return total // 2, total - total // 2


class _Converter:
    def __init__(self, data: bytes):
        self.model = tflite.Model.GetRootAsModel(data, 0)
        if self.model.SubgraphsLength() != 1:
            raise UnsupportedModel("only single-subgraph models")
        self.g = self.model.Subgraphs(0)
        self.nodes, self.inits, self.names = [], [], set()
        self.nchw = {}  # tensor index -> True if the ONNX tensor is stored NCHW
        self.dq_cache = {}

    # ---- tensors -------------------------------------------------------------------------
    def tensor(self, i):
        return self.g.Tensors(int(i))

    def shape(self, i):
        return [int(d) for d in self.tensor(i).ShapeAsNumpy()]

    def qparams(self, i):
        q = self.tensor(i).Quantization()
        if q is None or q.ScaleLength() == 0:
            raise UnsupportedModel(f"tensor {i} is not quantized")
        return (q.ScaleAsNumpy().astype(np.float32), q.ZeroPointAsNumpy().astype(np.int64),
                int(q.QuantizedDimension()))

    def const(self, i):
        t = self.tensor(i)
        buf = self.model.Buffers(t.Buffer())
        if buf is None or buf.DataLength() == 0:
            return None
        dtype = _TFL_TYPES[t.Type()]
        return np.frombuffer(buf.DataAsNumpy().tobytes(), dtype=dtype).reshape(self.shape(i))

    def qname(self, i):
        return f"t{int(i)}"

    def uniq(self, base):
        name, k = base, 0
        while name in self.names:
            k += 1
            name = f"{base}_{k}"
        self.names.add(name)
        return name

    def init(self, base, array):
        name = self.uniq(base)
        self.inits.append(numpy_helper.from_array(np.array(array, order="C"), name))
        return name

    def node(self, op_type, inputs, outputs=None, base=None, **attrs):
        outputs = outputs or [self.uniq(base or op_type.lower())]
        self.nodes.append(helper.make_node(op_type, inputs, outputs, name=self.uniq("n_" + op_type), **attrs))
        return outputs[0]

    def scale_zp_inits(self, i, dtype=np.int8):
        s, zp, _ = self.qparams(i)
        if len(s) != 1:
            raise UnsupportedModel(f"activation tensor {i} is per-channel")
        return (self.init(f"{self.qname(i)}_scale", np.array(s[0], np.float32)),
                self.init(f"{self.qname(i)}_zp", np.array(zp[0], dtype)))

    def dq(self, i):
        """Float view of activation tensor i (DequantizeLinear, shared between consumers)."""
        i = int(i)
        if i not in self.dq_cache:
            s, z = self.scale_zp_inits(i)
            self.dq_cache[i] = self.node("DequantizeLinear", [self.qname(i), s, z], base=f"{self.qname(i)}_f")
        return self.dq_cache[i]

    def q(self, float_name, i):
        s, z = self.scale_zp_inits(int(i))
        self.node("QuantizeLinear", [float_name, s, z], outputs=[self.qname(i)])

    def const_dq(self, i, array, axis):
        """int8 weight initializer (already in ONNX layout) + DequantizeLinear; axis is the ONNX
        per-channel axis (used only when the TFLite tensor has several scales)."""
        s, zp, _ = self.qparams(i)
        w = self.init(f"w{int(i)}", array.astype(np.int8))
        if len(s) == 1:
            sn = self.init(f"w{int(i)}_scale", np.array(s[0], np.float32))
            zn = self.init(f"w{int(i)}_zp", np.array(zp[0], np.int8))
            return self.node("DequantizeLinear", [w, sn, zn], base=f"w{int(i)}_f")
        sn = self.init(f"w{int(i)}_scale", s)
        zn = self.init(f"w{int(i)}_zp", zp.astype(np.int8))
        return self.node("DequantizeLinear", [w, sn, zn], base=f"w{int(i)}_f", axis=axis)

    def bias_dq(self, bias_i, in_i, w_i, channels):
        if bias_i < 0:
            return None
        b = self.const(bias_i).astype(np.int32)
        s_in = self.qparams(in_i)[0][0]
        s_w = self.qparams(w_i)[0]
        scale = (np.float32(s_in) * np.broadcast_to(s_w, (channels,))).astype(np.float32)
        bn = self.init(f"b{int(bias_i)}", b)
        sn = self.init(f"b{int(bias_i)}_scale", scale)
        zn = self.init(f"b{int(bias_i)}_zp", np.zeros(channels, np.int32))
        return self.node("DequantizeLinear", [bn, sn, zn], base=f"b{int(bias_i)}_f", axis=0)

    def activation(self, x, fused):
        A = tflite.ActivationFunctionType
        if fused == A.NONE:
            return x
        if fused == A.RELU:
            return self.node("Relu", [x])
        if fused in (A.RELU6, A.RELU_N1_TO_1):
            lo, hi = (0.0, 6.0) if fused == A.RELU6 else (-1.0, 1.0)
            return self.node("Clip", [x, self.init("clip_lo", np.array(lo, np.float32)),
                                      self.init("clip_hi", np.array(hi, np.float32))])
        raise UnsupportedModel(f"fused activation {fused}")

    # ---- operators -----------------------------------------------------------------------
    def conv(self, op, depthwise):
        x, w, b = (int(v) for v in op.InputsAsNumpy()[:3])
        y = int(op.Outputs(0))
        opts = _options(op, tflite.DepthwiseConv2DOptions if depthwise else tflite.Conv2DOptions)
        wt = self.const(w)
        in_shape = self.shape(x)
        if depthwise:  # TFLite [1, KH, KW, C*M] -> ONNX [C*M, 1, KH, KW], group = C
            if opts.DepthMultiplier() not in (0, 1) and wt.shape[3] != in_shape[3]:
                raise UnsupportedModel("depthwise multiplier != 1")
            w_onnx = wt.transpose(3, 0, 1, 2)
            group = in_shape[3]
        else:  # TFLite [O, KH, KW, I] -> ONNX [O, I, KH, KW]
            w_onnx = wt.transpose(0, 3, 1, 2)
            group = 1
        kh, kw = w_onnx.shape[2], w_onnx.shape[3]
        sh, sw = opts.StrideH(), opts.StrideW()
        dh, dw = opts.DilationHFactor() or 1, opts.DilationWFactor() or 1
        pads = [0, 0, 0, 0]
        if opts.Padding() == tflite.Padding.SAME:
            t, bo = _same_pads(in_shape[1], kh, sh, dh)
            l, r = _same_pads(in_shape[2], kw, sw, dw)
            pads = [t, l, bo, r]
        wf = self.const_dq(w, w_onnx, axis=0)
        inputs = [self.dq(x), wf]
        bf = self.bias_dq(b, x, w, w_onnx.shape[0])
        if bf:
            inputs.append(bf)
        out = self.node("Conv", inputs, kernel_shape=[kh, kw], strides=[sh, sw], dilations=[dh, dw],
                        pads=pads, group=group)
        self.q(self.activation(out, opts.FusedActivationFunction()), y)
        self.nchw[y] = True

    def fully_connected(self, op):
        ins = [int(v) for v in op.InputsAsNumpy()]
        x, w = ins[0], ins[1]
        b = ins[2] if len(ins) > 2 else -1
        y = int(op.Outputs(0))
        opts = _options(op, tflite.FullyConnectedOptions)
        wt = self.const(w)  # [O, I]
        xf = self.dq(x)
        if self.nchw.get(x) or len(self.shape(x)) != 2:
            xf = self.flatten_nhwc(x, xf, wt.shape[1])
        inputs = [xf, self.const_dq(w, wt, axis=0)]
        bf = self.bias_dq(b, x, w, wt.shape[0])
        if bf:
            inputs.append(bf)
        out = self.node("Gemm", inputs, transB=1)
        self.q(self.activation(out, opts.FusedActivationFunction()), y)

    def flatten_nhwc(self, x, xf, inner):
        if self.nchw.get(x):
            xf = self.node("Transpose", [xf], perm=NCHW_TO_NHWC)
        return self.node("Reshape", [xf, self.init("fc_shape", np.array([-1, inner], np.int64))])

    def add(self, op):
        a, b = (int(v) for v in op.InputsAsNumpy())
        y = int(op.Outputs(0))
        if bool(self.nchw.get(a)) != bool(self.nchw.get(b)):
            raise UnsupportedModel("ADD with mixed layouts")
        opts = _options(op, tflite.AddOptions)
        out = self.node("Add", [self.dq(a), self.dq(b)])
        self.q(self.activation(out, opts.FusedActivationFunction()), y)
        self.nchw[y] = bool(self.nchw.get(a))

    def max_pool(self, op, average=False):
        x, y = int(op.Inputs(0)), int(op.Outputs(0))
        opts = _options(op, tflite.Pool2DOptions)
        in_shape = self.shape(x)
        kh, kw, sh, sw = opts.FilterHeight(), opts.FilterWidth(), opts.StrideH(), opts.StrideW()
        pads = [0, 0, 0, 0]
        if opts.Padding() == tflite.Padding.SAME:
            t, bo = _same_pads(in_shape[1], kh, sh, 1)
            l, r = _same_pads(in_shape[2], kw, sw, 1)
            pads = [t, l, bo, r]
        extra = dict(count_include_pad=0) if average else {}  # TFLite averages over the valid taps
        out = self.node("AveragePool" if average else "MaxPool", [self.dq(x)], kernel_shape=[kh, kw],
                        strides=[sh, sw], pads=pads, **extra)
        self.q(self.activation(out, opts.FusedActivationFunction()), y)
        self.nchw[y] = True

    def mean(self, op):
        x, axes_i = (int(v) for v in op.InputsAsNumpy())
        y = int(op.Outputs(0))
        keep = _options(op, tflite.ReducerOptions).KeepDims()
        axes = [int(a) % len(self.shape(x)) for a in self.const(axes_i).reshape(-1)]
        if self.nchw.get(x):
            axes = [AXIS_NHWC_TO_NCHW[a] for a in axes]
        out = self.node("ReduceMean", [self.dq(x)], axes=sorted(axes), keepdims=1 if keep else 0)
        self.q(out, y)
        self.nchw[y] = bool(keep and self.nchw.get(x))

    def softmax(self, op):
        x, y = int(op.Inputs(0)), int(op.Outputs(0))
        beta = _options(op, tflite.SoftmaxOptions).Beta()
        if self.nchw.get(x):
            raise UnsupportedModel("SOFTMAX on a rank-4 tensor")
        xf = self.dq(x)
        if beta != 1.0:
            xf = self.node("Mul", [xf, self.init("beta", np.array(beta, np.float32))])
        self.q(self.node("Softmax", [xf], axis=-1), y)

    def pad(self, op):
        x, p = (int(v) for v in op.InputsAsNumpy()[:2])
        y = int(op.Outputs(0))
        pads = self.const(p).astype(np.int64)  # [rank, 2] in TFLite axis order
        if self.nchw.get(x):
            pads = pads[NHWC_TO_NCHW]
        onnx_pads = np.concatenate([pads[:, 0], pads[:, 1]])
        out = self.node("Pad", [self.dq(x), self.init("pads", onnx_pads),
                                self.init("pad_value", np.array(0.0, np.float32))], mode="constant")
        self.q(out, y)
        self.nchw[y] = bool(self.nchw.get(x))

    def concat(self, op):
        ins = [int(v) for v in op.InputsAsNumpy()]
        y = int(op.Outputs(0))
        opts = _options(op, tflite.ConcatenationOptions)
        layouts = {bool(self.nchw.get(i)) for i in ins}
        if len(layouts) != 1:
            raise UnsupportedModel("CONCATENATION with mixed layouts")
        axis = opts.Axis() % len(self.shape(ins[0]))
        nchw = layouts.pop()
        if nchw:
            axis = AXIS_NHWC_TO_NCHW[axis]
        out = self.node("Concat", [self.dq(i) for i in ins], axis=axis)
        self.q(self.activation(out, opts.FusedActivationFunction()), y)
        self.nchw[y] = nchw

    def reshape(self, op):
        x, y = int(op.Inputs(0)), int(op.Outputs(0))
        xf = self.dq(x)
        if self.nchw.get(x):
            xf = self.node("Transpose", [xf], perm=NCHW_TO_NHWC)
        out_shape = self.shape(y)
        out = self.node("Reshape", [xf, self.init("shape", np.array(out_shape, np.int64))])
        if len(out_shape) == 4:
            out = self.node("Transpose", [out], perm=NHWC_TO_NCHW)
            self.nchw[y] = True
        self.q(out, y)

    def prelu(self, op):
        x, a = (int(v) for v in op.InputsAsNumpy())
        y = int(op.Outputs(0))
        alpha = self.const(a)
        rank = len(self.shape(x))
        alpha = alpha.reshape((1,) * (rank - alpha.ndim) + alpha.shape)  # broadcast to x's rank
        if self.nchw.get(x):
            alpha = alpha.transpose(NHWC_TO_NCHW)
        s, _, qd = self.qparams(a)
        if len(s) != 1:
            raise UnsupportedModel("per-channel PRELU alpha")
        out = self.node("PRelu", [self.dq(x), self.const_dq(a, alpha, axis=0)])
        self.q(out, y)
        self.nchw[y] = bool(self.nchw.get(x))

    def quantize(self, op):
        x, y = int(op.Inputs(0)), int(op.Outputs(0))
        if self.tensor(x).Type() != tflite.TensorType.FLOAT32:
            raise UnsupportedModel("QUANTIZE from a non-float tensor")
        self.q(self.qname(x), y)  # float tensors are named like int8 ones; they hold floats
        self.nchw[y] = bool(self.nchw.get(x))

    def dequantize(self, op):
        x, y = int(op.Inputs(0)), int(op.Outputs(0))
        self.node("Identity", [self.dq(x)], outputs=[self.qname(y)])
        self.nchw[y] = bool(self.nchw.get(x))

    def shape_arithmetic(self, op):
        y = int(op.Outputs(0))
        if y in {int(i) for i in self.g.OutputsAsNumpy()}:
            raise UnsupportedModel("shape arithmetic as a graph output")
        self.shape_only.add(y)

    # ---- graph ---------------------------------------------------------------------------
    def convert(self, name):
        B = tflite.BuiltinOperator
        handlers = {B.CONV_2D: lambda op: self.conv(op, False),
                    B.DEPTHWISE_CONV_2D: lambda op: self.conv(op, True),
                    B.FULLY_CONNECTED: self.fully_connected, B.ADD: self.add,
                    B.MAX_POOL_2D: self.max_pool, B.MEAN: self.mean, B.SOFTMAX: self.softmax,
                    B.PAD: self.pad, B.CONCATENATION: self.concat, B.RESHAPE: self.reshape,
                    B.PRELU: self.prelu, B.AVERAGE_POOL_2D: lambda op: self.max_pool(op, True),
                    B.QUANTIZE: self.quantize, B.DEQUANTIZE: self.dequantize,
                    B.SHAPE: self.shape_arithmetic, B.STRIDED_SLICE: self.shape_arithmetic,
                    B.PACK: self.shape_arithmetic}
        self.shape_only = set()
        graph_inputs, graph_outputs = [], []
        for i in self.g.InputsAsNumpy():
            i = int(i)
            t = self.tensor(i)
            if t.Type() not in (tflite.TensorType.INT8, tflite.TensorType.FLOAT32):
                raise UnsupportedModel("only int8 or float32 inputs")
            shape = self.shape(i)
            name = t.Name().decode()
            self.names.add(name)
            graph_inputs.append(helper.make_tensor_value_info(name, _ONNX_TYPES[_TFL_TYPES[t.Type()]], shape))
            if len(shape) == 4:
                self.node("Transpose", [name], outputs=[self.qname(i)], perm=NHWC_TO_NCHW)
                self.nchw[i] = True
            else:
                self.node("Identity", [name], outputs=[self.qname(i)])
        for k in range(self.g.OperatorsLength()):
            op = self.g.Operators(k)
            oc = self.model.OperatorCodes(op.OpcodeIndex())
            code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
            if code not in handlers:
                raise UnsupportedModel(f"operator {k}: {_OP_NAMES.get(code, code)} not supported")
            shape_ops = (B.SHAPE, B.STRIDED_SLICE, B.PACK)
            reads = [int(v) for v in op.InputsAsNumpy()]
            if code == B.RESHAPE:
                reads = reads[:1]  # its shape input may be shape arithmetic
            if code not in shape_ops and any(v in self.shape_only for v in reads):
                raise UnsupportedModel(f"operator {k}: reads shape arithmetic (only RESHAPE's shape may)")
            handlers[code](op)
        for i in self.g.OutputsAsNumpy():
            i = int(i)
            t = self.tensor(i)
            name = t.Name().decode()
            shape = self.shape(i)
            if self.nchw.get(i):
                self.node("Transpose", [self.qname(i)], outputs=[name], perm=NCHW_TO_NHWC)
            else:
                self.node("Identity", [self.qname(i)], outputs=[name])
            graph_outputs.append(helper.make_tensor_value_info(name, _ONNX_TYPES[_TFL_TYPES[t.Type()]], shape))
        graph = helper.make_graph(self.nodes, name, graph_inputs, graph_outputs, self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="facecam tools/bench/tflite_to_onnx.py")
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model


def convert(tflite_path: str) -> onnx.ModelProto:
    with open(tflite_path, "rb") as f:
        data = f.read()
    return _Converter(data).convert(os.path.splitext(os.path.basename(tflite_path))[0])


def _litert_builtin(tflite_path, keep_all=False):
    from ai_edge_litert import interpreter as tfl
    it = tfl.Interpreter(model_path=tflite_path, num_threads=1, experimental_preserve_all_tensors=keep_all,
                         experimental_op_resolver_type=tfl.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    return it


def _random_input(it, d, rng):
    """int8 inputs: uniform over [-128, 127]; float32 inputs (quantized by a QUANTIZE): uniform over
    the range that QUANTIZE maps onto [-128, 127]."""
    if d["dtype"] == np.int8:
        return rng.integers(-128, 128, size=d["shape"], dtype=np.int8)
    tensors = {t["index"]: t for t in it.get_tensor_details()}
    for op in it._get_ops_details():
        if op["op_name"] == "QUANTIZE" and d["index"] in list(op["inputs"]):
            scale, zp = tensors[int(op["outputs"][0])]["quantization"]
            return rng.uniform((-128 - zp) * scale, (127 - zp) * scale, size=d["shape"]).astype(np.float32)
    return rng.standard_normal(d["shape"]).astype(np.float32)


def _lsb(it, d):
    """Size of one int8 step of output d: 1 for int8, the DEQUANTIZE input's scale for float."""
    if d["dtype"] == np.int8:
        return 1.0
    tensors = {t["index"]: t for t in it.get_tensor_details()}
    for op in it._get_ops_details():
        if op["op_name"] == "DEQUANTIZE" and d["index"] in list(op["outputs"]):
            return float(tensors[int(op["inputs"][0])]["quantization"][0])
    raise UnsupportedModel(f"float output {d['name']} not made by DEQUANTIZE")


def max_lsb_deviation_per_op(tflite_path: str, seed: int = 1234) -> int:
    """Max deviation of any single converted operator in isolation: every DequantizeLinear of an
    activation is fed LiteRT built-in's own int8 value of that tensor (unoptimized ORT graph), so
    rounding differences cannot accumulate through the network. 1 LSB means the conversion is
    faithful; a bigger end-to-end figure is accumulation, not a wrong operator."""
    import onnxruntime as ort
    conv = _Converter(open(tflite_path, "rb").read())
    model = conv.convert("isolated")
    it = _litert_builtin(tflite_path, keep_all=True)
    rng = np.random.default_rng(seed)
    feed = {}
    for d in it.get_input_details():
        x = _random_input(it, d, rng)
        it.set_tensor(d["index"], x)
        feed[d["name"]] = x
    it.invoke()

    def onnx_layout(i):
        v = it.get_tensor(i)
        return np.ascontiguousarray(v.transpose(NHWC_TO_NCHW) if conv.nchw.get(i) else v)

    for node in model.graph.node:
        src = node.input[0] if node.input else ""
        if node.op_type == "DequantizeLinear" and src[:1] == "t" and src[1:].isdigit():
            name = "in_" + src
            node.input[0] = name
            if name not in feed:
                feed[name] = onnx_layout(int(src[1:]))
                model.graph.input.append(helper.make_tensor_value_info(name, TensorProto.INT8, feed[name].shape))
    produced = [o for n in model.graph.node if n.op_type == "QuantizeLinear" for o in n.output]
    for name in produced:
        model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.INT8, None))
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    outs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feed)))
    worst = 0
    for name in produced:
        ref = onnx_layout(int(name[1:])).astype(np.int32)
        worst = max(worst, int(np.abs(ref - outs[name].astype(np.int32).reshape(ref.shape)).max()))
    return worst


def max_lsb_deviation(tflite_path: str, onnx_path: str, level: str = "extended", trials: int = 4) -> int:
    """Max |ORT - LiteRT built-in| over all outputs, end to end, in LSB (int8 steps; a float output
    made by DEQUANTIZE counts in its input's steps), on random inputs (see _random_input)."""
    it = _litert_builtin(tflite_path)
    sess = ort_session(onnx_path, level)
    rng = np.random.default_rng(1234)
    worst = 0
    for _ in range(trials):
        feed = {}
        for d in it.get_input_details():
            x = _random_input(it, d, rng)
            it.set_tensor(d["index"], x)
            feed[d["name"]] = x
        it.invoke()
        ort_out = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feed)))
        for d in it.get_output_details():
            ref = it.get_tensor(d["index"]).astype(np.float64)
            got = ort_out[d["name"]].astype(np.float64).reshape(ref.shape)
            worst = max(worst, int(round(np.abs(ref - got).max() / _lsb(it, d))))
    return worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--out-dir", default=None, help="where to write X.onnx (default: next to X.tflite)")
    ap.add_argument("--validate", action="store_true", help="compare with LiteRT built-in at each ORT level")
    a = ap.parse_args()
    status = 0
    for m in a.models:
        out_dir = a.out_dir or os.path.dirname(m)
        os.makedirs(out_dir, exist_ok=True)
        out = os.path.join(out_dir, os.path.splitext(os.path.basename(m))[0] + ".onnx")
        try:
            onnx.save(convert(m), out)
        except Exception as e:  # report and go on with the other models
            print(f"{m}: conversion failed: {e}", file=sys.stderr)
            status = 1
            continue
        line = f"{m} -> {out}"
        if a.validate:
            line += f"  per-op: {max_lsb_deviation_per_op(m)} LSB"
            for level in LEVELS:
                try:
                    line += f"  {level}: {max_lsb_deviation(m, out, level)} LSB"
                except Exception as e:
                    line += f"  {level}: failed ({str(e).splitlines()[0][:80]})"
        print(line)
    sys.exit(status)


if __name__ == "__main__":
    main()
