"""Deterministic random single-op int8 TFLite cases covering every op in cint8.h.

Each case is a dict understood by tflbuild.build_model plus 'name' and 'feeds' (the runtime
input arrays, in SubGraph input order). Everything derives from fixed seeds.
"""
import numpy as np

F32 = np.float32
SEED = 20240611

ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6 = 0, 1, 2, 3
SAME, VALID = 0, 1


class Case:
    def __init__(self, name, op):
        self.d = dict(name=name, op=op, tensors=[], op_inputs=[], op_outputs=[], inputs=[],
                      outputs=[], options={}, feeds=[])

    def tensor(self, shape, dtype="int8", scale=None, zp=None, qdim=0, data=None, name=None):
        t = dict(name=name or f"t{len(self.d['tensors'])}", shape=[int(s) for s in shape],
                 dtype=dtype, data=data)
        if scale is not None:
            t["scale"] = [float(F32(s)) for s in np.atleast_1d(scale)]
            t["zero_point"] = [int(z) for z in np.atleast_1d(zp)]
            t["qdim"] = qdim
        self.d["tensors"].append(t)
        return len(self.d["tensors"]) - 1

    def runtime_input(self, idx, value):
        self.d["inputs"].append(idx)
        self.d["op_inputs"].append(idx)
        self.d["feeds"].append(value)

    def const_input(self, idx):
        self.d["op_inputs"].append(idx)

    def output(self, idx):
        self.d["outputs"].append(idx)
        self.d["op_outputs"].append(idx)

    def unused_input(self):
        """A graph input no op reads, for ops whose inputs are all constants (facecam refuses
        graphs without inputs)."""
        idx = self.tensor([1], scale=1.0, zp=0, name="unused")
        self.d["inputs"].append(idx)
        self.d["feeds"].append(np.zeros([1], np.int8))


# ---------------------------------------------------------------------------------------------
# random helpers

def rand_scale(rng, lo=-3.0, hi=0.5):
    return float(F32(10.0 ** rng.uniform(lo, hi)))


def rand_zp(rng, k):
    # extremes regularly
    choices = [-128, 127, 0]
    if k % 4 < 2:
        return int(choices[k % 3])
    return int(rng.integers(-128, 128))


PATTERNS = ["random", "random", "min", "max", "alternating", "random"]


def int8_data(rng, shape, k):
    pat = PATTERNS[k % len(PATTERNS)]
    n = int(np.prod(shape))
    if pat == "min":
        a = np.full(n, -128)
    elif pat == "max":
        a = np.full(n, 127)
    elif pat == "alternating":
        a = np.where(np.arange(n) % 2 == 0, -128, 127)
    else:
        a = rng.integers(-128, 128, n)
    return a.astype(np.int8).reshape(shape)


def weights(rng, shape):
    return rng.integers(-127, 128, int(np.prod(shape))).astype(np.int8).reshape(shape)


def out_size(size, k, stride, dilation, padding):
    eff = (k - 1) * dilation + 1
    if padding == SAME:
        return (size + stride - 1) // stride
    return (size - eff + stride) // stride


# ---------------------------------------------------------------------------------------------
# op families

def conv_cases(rng, depthwise):
    op = "DEPTHWISE_CONV_2D" if depthwise else "CONV_2D"
    out = []
    n_cases = 12 if depthwise else 16
    for k in range(n_cases):
        while True:
            kh, kw = int(rng.choice([1, 2, 3, 5])), int(rng.choice([1, 2, 3]))
            sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 3))
            dh, dw = (1, 1) if k % 3 else (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
            if dh > 1 or dw > 1:
                sh, sw = 1, 1  # TFLite allows both, but keep the cases ordinary
            pad = SAME if k % 2 == 0 else VALID
            h, w = int(rng.integers(3, 11)), int(rng.integers(3, 11))
            oh, ow = out_size(h, kh, sh, dh, pad), out_size(w, kw, sw, dw, pad)
            if oh >= 1 and ow >= 1:
                break
        batches = 2 if k % 5 == 4 else 1
        cin = int(rng.integers(1, 9))
        dm = 1
        if depthwise:
            dm = 1 if k % 3 else int(rng.integers(2, 4))
            cout = cin * dm
        else:
            cout = int(rng.integers(1, 13))
        per_channel = (k % 4) != 1
        s_in = rand_scale(rng, -2.5, 0)
        zp_in = rand_zp(rng, k)
        fscale = ([rand_scale(rng, -3, -0.5) * rng.uniform(0.5, 2) for _ in range(cout)]
                  if per_channel else [rand_scale(rng, -3, -0.5)])
        ktaps = kh * kw * (1 if depthwise else cin)
        s_out = float(F32(s_in * np.mean(fscale) * np.sqrt(ktaps) * 70 * 75 / 128.0 *
                          rng.uniform(0.3, 2.0)))
        ties = k >= n_cases - 2  # power-of-two rescale: many exact rounding ties
        if ties:
            if depthwise:
                dm, cin = 2, 6
                cout = cin * dm  # 8 vector channels + 4 scalar ones in LiteRT's output stage
            s_in, s_out, fscale = 1.0, 1.0, [0.0625] * cout
        zp_out = rand_zp(rng, k + 1)
        act = [ACT_NONE, ACT_RELU, ACT_RELU6, ACT_NONE, ACT_RELU_N1_TO_1][k % 5]
        c = Case(f"{op.lower()}_{k:02d}", op)
        x = c.tensor([batches, h, w, cin], scale=s_in, zp=zp_in, name="input")
        c.runtime_input(x, int8_data(rng, [batches, h, w, cin], k))
        if depthwise:
            fshape = [1, kh, kw, cout]
            fq = dict(qdim=3)
        else:
            fshape = [cout, kh, kw, cin]
            fq = dict(qdim=0)
        wdata = weights(rng, fshape)
        if ties:
            wdata = rng.integers(-3, 4, fshape).astype(np.int8)
        f = c.tensor(fshape, scale=fscale, zp=[0] * len(fscale), data=wdata,
                     name="filter", **fq)
        c.const_input(f)
        bscale = [float(F32(np.float64(F32(s_in)) * np.float64(F32(fs)))) for fs in
                  (fscale if per_channel else fscale)]
        if True:  # LiteRT's int8 CONV_2D/DEPTHWISE_CONV_2D insist on a bias tensor
            bias = rng.integers(-3000, 3000, cout).astype(np.int32)
            bt = c.tensor([cout], dtype="int32", scale=bscale, zp=[0] * len(bscale), data=bias,
                          name="bias")
            c.const_input(bt)
        y = c.tensor([batches, oh, ow, cout], scale=s_out, zp=zp_out, name="output")
        c.output(y)
        opts = dict(Padding=pad, StrideW=sw, StrideH=sh, FusedActivationFunction=act,
                    DilationWFactor=dw, DilationHFactor=dh)
        if depthwise:
            opts["DepthMultiplier"] = dm
        c.d["options"] = opts
        out.append(c.d)
    return out


def fc_cases(rng):
    out = []
    for k in range(9):
        per_channel = k % 3 == 2
        keep = k % 4 == 3
        d_in = int(rng.integers(1, 40))
        d_out = int(rng.integers(1, 20))
        if keep:
            in_shape = [1, 2, 3, d_in]
            out_shape = [1, 2, 3, d_out]
        else:
            bsz = int(rng.integers(1, 4))
            in_shape = [bsz, d_in]
            out_shape = [bsz, d_out]
        s_in = rand_scale(rng, -2.5, 0)
        zp_in = rand_zp(rng, k)
        fscale = ([rand_scale(rng, -3, -1) for _ in range(d_out)] if per_channel
                  else [rand_scale(rng, -3, -1)])
        s_out = float(F32(s_in * np.mean(fscale) * np.sqrt(d_in) * 70 * 75 / 128.0 *
                          rng.uniform(0.3, 2.0)))
        c = Case(f"fully_connected_{k:02d}", "FULLY_CONNECTED")
        x = c.tensor(in_shape, scale=s_in, zp=zp_in, name="input")
        c.runtime_input(x, int8_data(rng, in_shape, k))
        w = c.tensor([d_out, d_in], scale=fscale, zp=[0] * len(fscale), qdim=0,
                     data=weights(rng, [d_out, d_in]), name="weights")
        c.const_input(w)
        if k % 5 == 4:
            c.d["op_inputs"].append(-1)
        else:
            bscale = [float(F32(np.float64(F32(s_in)) * np.float64(F32(fs)))) for fs in fscale]
            bt = c.tensor([d_out], dtype="int32", scale=bscale, zp=[0] * len(bscale),
                          data=rng.integers(-5000, 5000, d_out).astype(np.int32), name="bias")
            c.const_input(bt)
        y = c.tensor(out_shape, scale=s_out, zp=rand_zp(rng, k + 2), name="output")
        c.output(y)
        c.d["options"] = dict(FusedActivationFunction=[ACT_NONE, ACT_RELU, ACT_RELU6][k % 3],
                              KeepNumDims=keep)
        out.append(c.d)
    return out


def binary_cases(rng, op, count):
    out = []
    for k in range(count):
        h, w, ch = int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(1, 9))
        shape1 = [1, h, w, ch]
        shape2 = [[1, h, w, ch], [1, 1, 1, ch], [1, h, 1, ch], [1, h, w, ch], [ch], [1, 1, w, 1]
                  ][k % 6]
        if k % 7 == 6:
            shape1, shape2 = shape2, shape1
        out_shape = list(np.broadcast_shapes(tuple(shape1), tuple(shape2)))
        s1, s2 = rand_scale(rng, -2.5, 0.5), rand_scale(rng, -2.5, 0.5)
        if op == "ADD":
            so = float(F32(max(s1, s2) * rng.uniform(0.8, 3.0)))
        else:
            so = float(F32(s1 * s2 * 128 * rng.uniform(0.3, 3.0)))
        c = Case(f"{op.lower()}_{k:02d}", op)
        a = c.tensor(shape1, scale=s1, zp=rand_zp(rng, k), name="input1")
        b = c.tensor(shape2, scale=s2, zp=rand_zp(rng, k + 1), name="input2")
        c.runtime_input(a, int8_data(rng, shape1, k))
        c.runtime_input(b, int8_data(rng, shape2, k + 1))
        y = c.tensor(out_shape, scale=so, zp=rand_zp(rng, k + 2), name="output")
        c.output(y)
        c.d["options"] = dict(FusedActivationFunction=[ACT_NONE, ACT_RELU, ACT_NONE, ACT_RELU6,
                                                       ACT_RELU_N1_TO_1][k % 5])
        out.append(c.d)
    return out


def pool_cases(rng, op, count):
    out = []
    for k in range(count):
        while True:
            fh, fw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
            sh, sw = int(rng.integers(1, 3)), int(rng.integers(1, 3))
            pad = SAME if k % 3 != 1 else VALID
            h, w = int(rng.integers(2, 9)), int(rng.integers(2, 9))
            oh, ow = out_size(h, fh, sh, 1, pad), out_size(w, fw, sw, 1, pad)
            if oh >= 1 and ow >= 1 and fh * fw > 1:
                break
        ch = int(rng.integers(1, 7))
        shape = [1 if k % 4 else 2, h, w, ch]
        s, zp = rand_scale(rng), rand_zp(rng, k)
        c = Case(f"{op.lower()}_{k:02d}", op)
        x = c.tensor(shape, scale=s, zp=zp, name="input")
        c.runtime_input(x, int8_data(rng, shape, k))
        y = c.tensor([shape[0], oh, ow, ch], scale=s, zp=zp, name="output")
        c.output(y)
        c.d["options"] = dict(Padding=pad, StrideW=sw, StrideH=sh, FilterWidth=fw,
                              FilterHeight=fh,
                              FusedActivationFunction=[ACT_NONE, ACT_RELU, ACT_RELU6][k % 3])
        out.append(c.d)
    return out


def mean_cases(rng):
    out = []
    for k in range(8):
        keep = k % 2 == 0
        shape = [1 if k % 3 else 2, int(rng.integers(1, 8)), int(rng.integers(1, 8)),
                 int(rng.integers(1, 12))]
        s_in, zp_in = rand_scale(rng), rand_zp(rng, k)
        if k in (2, 3):
            s_out, zp_out = s_in, zp_in
        else:
            s_out, zp_out = float(F32(s_in * rng.uniform(0.3, 3))), rand_zp(rng, k + 1)
        c = Case(f"mean_{k:02d}", "MEAN")
        x = c.tensor(shape, scale=s_in, zp=zp_in, name="input")
        c.runtime_input(x, int8_data(rng, shape, k))
        ax = c.tensor([2], dtype="int32", data=np.array([1, 2], np.int32), name="axis")
        c.const_input(ax)
        oshape = [shape[0], 1, 1, shape[3]] if keep else [shape[0], shape[3]]
        y = c.tensor(oshape, scale=s_out, zp=zp_out, name="output")
        c.output(y)
        c.d["options"] = dict(KeepDims=keep)
        out.append(c.d)
    return out


def pad_cases(rng, op, count):
    out = []
    for k in range(count):
        shape = [1, int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(1, 6))]
        if k == 2:
            shape = [int(rng.integers(2, 5)), int(rng.integers(2, 7))]
        pads = rng.integers(0, 3, (len(shape), 2)).astype(np.int32)
        if k == 0:
            pads[-1] = [0, int(rng.integers(1, 4))]  # channel padding, as in BlazeFace
        s, zp = rand_scale(rng), rand_zp(rng, k)
        c = Case(f"{op.lower()}_{k:02d}", op)
        x = c.tensor(shape, scale=s, zp=zp, name="input")
        c.runtime_input(x, int8_data(rng, shape, k))
        p = c.tensor([len(shape), 2], dtype="int32", data=pads, name="paddings")
        c.const_input(p)
        if op == "PADV2":
            cv = c.tensor([1], scale=s, zp=zp, data=np.array([rng.integers(-128, 128)],
                                                               np.int8), name="constant")
            c.const_input(cv)
        oshape = [d + int(a) + int(b) for d, (a, b) in zip(shape, pads)]
        y = c.tensor(oshape, scale=s, zp=zp, name="output")
        c.output(y)
        out.append(c.d)
    return out


def concat_cases(rng):
    out = []
    for k in range(5):
        axis = [3, 1, 3, 1, -1][k]
        n_in = 2 + k % 2
        base = [1, int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 5))]
        s, zp = rand_scale(rng), rand_zp(rng, k)
        c = Case(f"concatenation_{k:02d}", "CONCATENATION")
        total = 0
        for i in range(n_in):
            shp = list(base)
            shp[axis] = int(rng.integers(1, 5))
            total += shp[axis]
            x = c.tensor(shp, scale=s, zp=zp, name=f"input{i}")
            c.runtime_input(x, int8_data(rng, shp, k + i))
        oshape = list(base)
        oshape[axis] = total
        y = c.tensor(oshape, scale=s, zp=zp, name="output")
        c.output(y)
        c.d["options"] = dict(Axis=axis, FusedActivationFunction=ACT_NONE)
        out.append(c.d)
    return out


def reshape_cases(rng):
    out = []
    for k, (shape, new) in enumerate([([1, 4, 4, 3], [1, 48]), ([1, 6, 2], [1, 3, 2, 2])]):
        s, zp = rand_scale(rng), rand_zp(rng, k)
        c = Case(f"reshape_{k:02d}", "RESHAPE")
        x = c.tensor(shape, scale=s, zp=zp, name="input")
        c.runtime_input(x, int8_data(rng, shape, k))
        ns = c.tensor([len(new)], dtype="int32", data=np.array(new, np.int32), name="shape")
        c.const_input(ns)
        y = c.tensor(new, scale=s, zp=zp, name="output")
        c.output(y)
        c.d["options"] = dict(NewShape=new)
        out.append(c.d)
    return out


def softmax_cases(rng):
    out = []
    for k in range(6):
        beta = [1.0, 1.0, 0.5, 2.0, 1.0, 0.25][k]
        shape = [[1, 10], [2, 7], [1, 3, 3, 5], [1, 16], [1, 2, 2, 2], [3, 1]][k]
        s_in, zp_in = rand_scale(rng, -2, 0.3), rand_zp(rng, k)
        c = Case(f"softmax_{k:02d}", "SOFTMAX")
        x = c.tensor(shape, scale=s_in, zp=zp_in, name="input")
        c.runtime_input(x, int8_data(rng, shape, k))
        y = c.tensor(shape, scale=1.0 / 256.0, zp=-128, name="output")
        c.output(y)
        c.d["options"] = dict(Beta=beta)
        out.append(c.d)
    return out


def unary_cases(rng, op, count, out_quant=None, options=None, lo=-3.0, hi=0.5):
    out = []
    for k in range(count):
        shape = [1, int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 9))]
        if k == 0:
            shape = [1, 256]  # every int8 value once
        s_in, zp_in = rand_scale(rng, lo, hi), rand_zp(rng, k)
        if out_quant is not None:
            s_out, zp_out = out_quant
        else:
            s_out, zp_out = float(F32(s_in * 10 ** rng.uniform(-0.7, 0.7))), rand_zp(rng, k + 1)
        c = Case(f"{op.lower()}_{k:02d}", op)
        x = c.tensor(shape, scale=s_in, zp=zp_in, name="input")
        data = (np.arange(-128, 128, dtype=np.int8).reshape(shape) if k == 0
                else int8_data(rng, shape, k))
        c.runtime_input(x, data)
        y = c.tensor(shape, scale=s_out, zp=zp_out, name="output")
        c.output(y)
        if options is not None:
            c.d["options"] = options(k)
        out.append(c.d)
    return out


def prelu_cases(rng):
    out = []
    for k in range(5):
        ch = int(rng.integers(1, 9))
        shape = [1, int(rng.integers(1, 5)), int(rng.integers(1, 5)), ch]
        ashape = [[1, 1, ch], [ch], [1, 1, 1, ch], [1, 1, ch], [1, 1, ch]][k]
        s_in, zp_in = rand_scale(rng), rand_zp(rng, k)
        s_a, zp_a = rand_scale(rng, -3, -1.5), int(rng.integers(-20, 20))
        s_out, zp_out = float(F32(s_in * rng.uniform(0.5, 2))), rand_zp(rng, k + 1)
        c = Case(f"prelu_{k:02d}", "PRELU")
        x = c.tensor(shape, scale=s_in, zp=zp_in, name="input")
        c.runtime_input(x, int8_data(rng, shape, k))
        a = c.tensor(ashape, scale=s_a, zp=zp_a,
                     data=rng.integers(-128, 128, int(np.prod(ashape))).astype(np.int8)
                     .reshape(ashape), name="alpha")
        c.const_input(a)
        y = c.tensor(shape, scale=s_out, zp=zp_out, name="output")
        c.output(y)
        out.append(c.d)
    return out


def hard_swish_cases(rng):
    out = []
    for k in range(5):
        shape = [1, 256] if k == 0 else [1, int(rng.integers(1, 5)), int(rng.integers(1, 5)),
                                         int(rng.integers(1, 9))]
        s_in = rand_scale(rng, -2.5, 0)
        zp_in = rand_zp(rng, k)
        s_out = float(F32(s_in * 10 ** rng.uniform(-0.5, 0.5)))
        zp_out = rand_zp(rng, k + 1)
        c = Case(f"hard_swish_{k:02d}", "HARD_SWISH")
        x = c.tensor(shape, scale=s_in, zp=zp_in, name="input")
        data = (np.arange(-128, 128, dtype=np.int8).reshape(shape) if k == 0
                else int8_data(rng, shape, k))
        c.runtime_input(x, data)
        y = c.tensor(shape, scale=s_out, zp=zp_out, name="output")
        c.output(y)
        out.append(c.d)
    return out


def quantize_cases(rng):
    out = []
    for k in range(4):  # float32 -> int8
        shape = [1, int(rng.integers(1, 6)), int(rng.integers(1, 6)), 3]
        s, zp = rand_scale(rng), rand_zp(rng, k)
        vals = (rng.standard_normal(shape) * s * 100).astype(np.float32)
        if k == 1:  # exact .5 ties and saturation
            vals = ((rng.integers(-400, 400, shape) + 0.5) * s).astype(np.float32)
        c = Case(f"quantize_f32_{k:02d}", "QUANTIZE")
        x = c.tensor(shape, dtype="float32", name="input")
        c.runtime_input(x, vals)
        y = c.tensor(shape, scale=s, zp=zp, name="output")
        c.output(y)
        out.append(c.d)
    requant = [dict(d, name=d["name"].replace("quantize_", "quantize_i8_"))
               for d in unary_cases(rng, "QUANTIZE", 4)]
    # Case 0 holds every int8 value; a 1/4 rescale makes half of them exact rounding ties,
    # which LiteRT breaks differently in its 16-element vector blocks and in the tail.
    t_in, t_out = requant[0]["tensors"][0], requant[0]["tensors"][1]
    t_in["shape"], t_out["shape"] = [1, 250], [1, 250]
    requant[0]["feeds"] = [np.arange(-128, 122, dtype=np.int8).reshape(1, 250)]
    t_out["scale"] = [float(F32(t_in["scale"][0] * 4.0))]
    out += requant
    for k in range(3):
        shape = [1, 256] if k == 0 else [1, int(rng.integers(1, 6)), int(rng.integers(1, 6)), 4]
        s, zp = rand_scale(rng), rand_zp(rng, k)
        c = Case(f"dequantize_{k:02d}", "DEQUANTIZE")
        x = c.tensor(shape, scale=s, zp=zp, name="input")
        data = (np.arange(-128, 128, dtype=np.int8).reshape(shape) if k == 0
                else int8_data(rng, shape, k))
        c.runtime_input(x, data)
        y = c.tensor(shape, dtype="float32", name="output")
        c.output(y)
        out.append(c.d)
    return out


def resize_cases(rng, op, count):
    out = []
    for k in range(count):
        align, half = [(False, False), (True, False), (False, True), (False, False),
                       (True, False), (False, True), (False, False)][k % 7]
        ih, iw = int(rng.integers(1, 7)), int(rng.integers(2, 7))
        oh, ow = int(rng.integers(1, 13)), int(rng.integers(1, 13))
        if k == 0:
            oh, ow = ih * 2, iw * 2
        ch = int(rng.integers(1, 5))
        shape = [1 if k % 3 else 2, ih, iw, ch]
        s, zp = rand_scale(rng), rand_zp(rng, k)
        c = Case(f"{op.lower()}_{k:02d}", op)
        x = c.tensor(shape, scale=s, zp=zp, name="input")
        c.runtime_input(x, int8_data(rng, shape, k))
        sz = c.tensor([2], dtype="int32", data=np.array([oh, ow], np.int32), name="size")
        c.const_input(sz)
        y = c.tensor([shape[0], oh, ow, ch], scale=s, zp=zp, name="output")
        c.output(y)
        c.d["options"] = dict(AlignCorners=align, HalfPixelCenters=half)
        out.append(c.d)
    return out


def shape_cases(rng):
    """SHAPE of a run-time input (int32 and int64 results)."""
    out = []
    for k, (shape, out_type) in enumerate([([1, 5, 128, 1], "int32"), ([2, 3], "int32"), ([7], "int64")]):
        c = Case(f"shape_{k:02d}", "SHAPE")
        x = c.tensor(shape, scale=rand_scale(rng), zp=rand_zp(rng, k), name="input")
        c.runtime_input(x, int8_data(rng, shape, k))
        c.output(c.tensor([len(shape)], dtype=out_type, name="output"))
        c.d["options"] = dict(OutType=2 if out_type == "int32" else 4)  # TensorType INT32 / INT64
        out.append(c.d)
    return out


def strided_slice_cases():
    """STRIDED_SLICE of constant int32 tensors (the shape arithmetic facecam folds): masks,
    negative indices and strides, clamping, shrinking."""
    specs = [  # input values, shape, begin, end, strides, begin_mask, end_mask, shrink_mask
        ([1, 640], [2], [0], [1], [1], 0, 0, 1),
        ([3 * i + 1 for i in range(6)], [6], [1], [-1], [2], 0, 0, 0),
        ([3 * i + 1 for i in range(6)], [6], [0], [0], [-1], 1, 1, 0),
        (list(range(12)), [3, 4], [1, 0], [3, 1], [1, 2], 0, 2, 0),
        ([5, 6, 7, 8], [4], [-10], [100], [1], 0, 0, 0),
        ([5, 6, 7, 8, 9], [5], [4], [0], [-2], 0, 0, 0),
        (list(range(12)), [3, 4], [0, 2], [3, 3], [1, 1], 0, 0, 2),
        ([5, 6, 7, 8], [4], [-1], [0], [1], 0, 0, 1),
    ]
    out = []
    for k, (values, shape, begin, end, strides, bm, em, sm) in enumerate(specs):
        c = Case(f"strided_slice_{k:02d}", "STRIDED_SLICE")
        c.unused_input()
        for data, sh in ((values, shape), (begin, [len(begin)]), (end, [len(end)]), (strides, [len(strides)])):
            c.const_input(c.tensor(sh, dtype="int32", data=np.array(data, np.int32).reshape(sh)))
        dims = []
        for axis, size in enumerate(shape):
            if sm >> axis & 1:
                continue
            dims.append(len(range(size)[slice(None if bm >> axis & 1 else begin[axis],
                                              None if em >> axis & 1 else end[axis], strides[axis])]))
        c.output(c.tensor(dims, dtype="int32", name="output"))
        c.d["options"] = dict(BeginMask=bm, EndMask=em, ShrinkAxisMask=sm)
        out.append(c.d)
    return out


def pack_cases():
    """PACK of constant int32 tensors along each axis."""
    specs = [([[1], [5], [128], [1]], [], 0), ([[1, 2], [3, 4], [5, 6]], [2], 0),
             ([[1, 2], [3, 4], [5, 6]], [2], 1), ([[1, 2, 3, 4], [5, 6, 7, 8]], [2, 2], -1)]
    out = []
    for k, (values, shape, axis) in enumerate(specs):
        c = Case(f"pack_{k:02d}", "PACK")
        c.unused_input()
        for v in values:
            c.const_input(c.tensor(shape, dtype="int32", data=np.array(v, np.int32).reshape(shape)))
        dims = list(shape)
        dims.insert(axis if axis >= 0 else len(shape) + 1 + axis, len(values))
        c.output(c.tensor(dims, dtype="int32", name="output"))
        c.d["options"] = dict(ValuesCount=len(values), Axis=axis)
        out.append(c.d)
    return out


def refused_cases():
    """Models facecam must refuse, each with a part of the error it must give (not run on
    LiteRT): shape arithmetic on values only known at run time, and options it does not handle."""
    out = []

    def slice_case(name, values_dtype, runtime, options, expect):
        c = Case(name, "STRIDED_SLICE")
        x = c.tensor([4], dtype=values_dtype, name="input",
                     **({} if values_dtype == "int32" else dict(scale=1.0, zp=0)),
                     data=None if runtime else np.array([5, 6, 7, 8], np.int32))
        if runtime:
            c.runtime_input(x, np.zeros([4], np.int32 if values_dtype == "int32" else np.int8))
        else:
            c.unused_input()
            c.const_input(x)
        for v in ([1], [3], [1]):
            c.const_input(c.tensor([1], dtype="int32", data=np.array(v, np.int32)))
        c.output(c.tensor([2], dtype=values_dtype, name="output",
                          **({} if values_dtype == "int32" else dict(scale=1.0, zp=0))))
        c.d["options"] = options
        out.append((c.d, expect))

    slice_case("strided_slice_runtime", "int32", True, {}, "is computed at run time")
    slice_case("strided_slice_int8", "int8", True, {}, "expected int32 or int64")
    slice_case("strided_slice_ellipsis", "int32", False, dict(EllipsisMask=1), "ellipsis_mask 1")

    c = Case("pack_runtime", "PACK")
    x = c.tensor([2], scale=1.0, zp=0, name="input")
    c.runtime_input(x, np.zeros([2], np.int8))
    c.const_input(x)
    c.output(c.tensor([2, 2], scale=1.0, zp=0, name="output"))
    c.d["options"] = dict(ValuesCount=2, Axis=0)
    out.append((c.d, "PACK of int8 tensors is not supported"))

    for name, runtime, target, expect in (("reshape_runtime_shape", True, [1, 48], "is computed at run time"),
                                          ("reshape_wrong_target", False, [2, 24], "differs from output")):
        c = Case(name, "RESHAPE")
        x = c.tensor([1, 4, 4, 3], scale=1.0, zp=0, name="input")
        c.runtime_input(x, np.zeros([1, 4, 4, 3], np.int8))
        shape = c.tensor([2], dtype="int32", name="shape", data=None if runtime else np.array(target, np.int32))
        if runtime:
            c.runtime_input(shape, np.array(target, np.int32))
        else:
            c.const_input(shape)
        c.output(c.tensor([1, 48], scale=1.0, zp=0, name="output"))
        out.append((c.d, expect))
    return out


def all_cases(seed=SEED):
    rng = np.random.default_rng(seed)
    cases = []
    cases += conv_cases(rng, False)
    cases += conv_cases(rng, True)
    cases += fc_cases(rng)
    cases += binary_cases(rng, "ADD", 9)
    cases += binary_cases(rng, "MUL", 7)
    cases += pool_cases(rng, "MAX_POOL_2D", 4)
    cases += pool_cases(rng, "AVERAGE_POOL_2D", 6)
    cases += mean_cases(rng)
    cases += pad_cases(rng, "PAD", 3)
    cases += pad_cases(rng, "PADV2", 3)
    cases += concat_cases(rng)
    cases += reshape_cases(rng)
    cases += softmax_cases(rng)
    cases += unary_cases(rng, "LOGISTIC", 4, out_quant=(1.0 / 256.0, -128), lo=-2.5, hi=-0.5)
    cases += unary_cases(rng, "TANH", 4, out_quant=(1.0 / 128.0, 0), lo=-2.5, hi=-0.5)
    cases += unary_cases(rng, "RELU", 3)
    cases += unary_cases(rng, "RELU6", 3, lo=-2, hi=-0.5)
    cases += unary_cases(rng, "RELU_N1_TO_1", 3, lo=-2.5, hi=-1.5)
    alphas = [0.2, 0.01, 0.5, 0.1]
    cases += unary_cases(rng, "LEAKY_RELU", 4, options=lambda k: dict(Alpha=alphas[k]))
    cases += prelu_cases(rng)
    cases += hard_swish_cases(rng)
    cases += quantize_cases(rng)
    cases += resize_cases(rng, "RESIZE_NEAREST_NEIGHBOR", 5)
    cases += resize_cases(rng, "RESIZE_BILINEAR", 7)
    cases += shape_cases(rng)
    cases += strided_slice_cases()
    cases += pack_cases()
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    return cases
