#!/usr/bin/env python3
"""Direct check of the C kernels (Sources/CInt8) against LiteRT, without the Swift runtime.

Compiles Sources/CInt8 into tools/.cache/libcint8.so with gcc -O2, rebuilds every single-op
case of cases.py, runs it on LiteRT's built-in kernels and on the C kernel with the parameters
a runtime would derive from the model (micro-kernel selected from the --kernels table, called
through the descriptor's ukernel pointers as cint8.h's inline wrappers do), and compares bytes.
Prints per-op pass counts.
"""
import argparse
import ctypes as C
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cases as cases_mod  # noqa: E402
import litert_run  # noqa: E402
import tflbuild  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "Sources" / "CInt8"
CACHE = ROOT / "tools" / ".cache"

I32, F = C.c_int32, C.c_float
MAXR = 6
ISAS = {"reference": 0, "avx2": 1, "neon": 2, "neon-dot": 3}  # ci8_isa


class Conv(C.Structure):
    _fields_ = [(n, I32) for n in (
        "batches input_height input_width input_channels output_height output_width "
        "output_channels filter_height filter_width stride_height stride_width dilation_height "
        "dilation_width padding_top padding_left depth_multiplier").split()] + [
        ("input_scale", F), ("output_scale", F), ("input_zero_point", I32),
        ("output_zero_point", I32), ("activation_min", I32), ("activation_max", I32),
        ("filter_scales", C.POINTER(F)), ("filter_scale_count", I32), ("prepared", C.c_void_p),
        ("ukernel", C.c_void_p)]


class FC(C.Structure):
    _fields_ = [("batches", I32), ("input_depth", I32), ("output_depth", I32),
                ("input_scale", F), ("output_scale", F), ("input_zero_point", I32),
                ("output_zero_point", I32), ("activation_min", I32), ("activation_max", I32),
                ("filter_scales", C.POINTER(F)), ("filter_scale_count", I32),
                ("prepared", C.c_void_p), ("ukernel", C.c_void_p)]


class Broadcast(C.Structure):
    _fields_ = [("output_shape", I32 * MAXR), ("input1_strides", I32 * MAXR),
                ("input2_strides", I32 * MAXR)]


class Binary(C.Structure):
    _fields_ = [("shape", Broadcast), ("input1_scale", F), ("input2_scale", F),
                ("output_scale", F), ("input1_zero_point", I32), ("input2_zero_point", I32),
                ("output_zero_point", I32), ("activation_min", I32), ("activation_max", I32),
                ("prepared", C.c_void_p), ("ukernel", C.c_void_p)]


class Pool(C.Structure):
    _fields_ = [(n, I32) for n in (
        "batches input_height input_width channels output_height output_width filter_height "
        "filter_width stride_height stride_width padding_top padding_left activation_min "
        "activation_max").split()] + [("ukernel", C.c_void_p)]


class Mean(C.Structure):
    _fields_ = [("batches", I32), ("height", I32), ("width", I32), ("channels", I32),
                ("input_scale", F), ("output_scale", F), ("input_zero_point", I32),
                ("output_zero_point", I32), ("keep_dims", I32), ("prepared", C.c_void_p),
                ("ukernel", C.c_void_p)]


class Pad(C.Structure):
    _fields_ = [("input_shape", I32 * MAXR), ("pad_before", I32 * MAXR),
                ("pad_after", I32 * MAXR), ("pad_value", C.c_int8)]


class Concat(C.Structure):
    _fields_ = [("outer_size", I32), ("input_count", I32), ("input_row_sizes", C.POINTER(I32))]


class Softmax(C.Structure):
    _fields_ = [("rows", I32), ("depth", I32), ("beta", F), ("input_scale", F),
                ("output_scale", F), ("input_zero_point", I32), ("output_zero_point", I32),
                ("prepared", C.c_void_p), ("ukernel", C.c_void_p)]


class UnaryQ(C.Structure):
    _fields_ = [("input_scale", F), ("output_scale", F), ("input_zero_point", I32),
                ("output_zero_point", I32)]


class Resize(C.Structure):
    _fields_ = [(n, I32) for n in (
        "batches input_height input_width channels output_height output_width align_corners "
        "half_pixel_centers").split()]


# Micro-kernel interfaces (cint8.h ci8_*_ukernel); descriptors are passed as addresses.
V, P8, SZ, ST = C.c_void_p, C.POINTER(C.c_int8), C.c_size_t, C.c_int


class ConvUK(C.Structure):  # also FULLY_CONNECTED: the same fields and argument kinds
    _fields_ = [("name", C.c_char_p), ("supports", V), ("prepared_size", C.CFUNCTYPE(SZ, V)),
                ("prepare", C.CFUNCTYPE(ST, V, P8, C.POINTER(I32), V)),
                ("scratch_size", C.CFUNCTYPE(SZ, V)),
                ("run", C.CFUNCTYPE(None, V, P8, P8, V, I32, I32))]


class BinaryUK(C.Structure):
    _fields_ = [("name", C.c_char_p), ("supports", V), ("prepared_size", C.CFUNCTYPE(SZ, V)),
                ("prepare", C.CFUNCTYPE(ST, V, V)), ("run", C.CFUNCTYPE(None, V, P8, P8, P8))]


class PoolUK(C.Structure):
    _fields_ = [("name", C.c_char_p), ("supports", V), ("run", C.CFUNCTYPE(None, V, P8, P8))]


class MeanUK(C.Structure):
    _fields_ = [("name", C.c_char_p), ("supports", V), ("prepared_size", C.CFUNCTYPE(SZ, V)),
                ("prepare", C.CFUNCTYPE(ST, V, V)), ("scratch_size", C.CFUNCTYPE(SZ, V)),
                ("run", C.CFUNCTYPE(None, V, P8, P8, V))]


class SoftmaxUK(C.Structure):
    _fields_ = [("name", C.c_char_p), ("supports", V), ("prepared_size", C.CFUNCTYPE(SZ, V)),
                ("prepare", C.CFUNCTYPE(ST, V, V)), ("run", C.CFUNCTYPE(None, V, P8, P8))]


def ukernel(desc, kind):
    return C.cast(desc.ukernel, C.POINTER(kind)).contents


def build_lib():
    CACHE.mkdir(parents=True, exist_ok=True)
    out = CACHE / "libcint8.so"
    srcs = [SRC / "kernels.c"] + sorted(SRC.glob("*/*.c"))
    newest = max(p.stat().st_mtime for p in srcs + list(SRC.glob("*/*.h")))
    if not out.exists() or out.stat().st_mtime < newest:
        cmd = ["gcc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE",
               "-fPIC", "-shared", "-I", str(SRC / "include"), "-o", str(out)] + [
            str(s) for s in srcs] + ["-lm"]
        subprocess.run(cmd, check=True)
    return C.CDLL(str(out))


def ptr(a, t=C.c_int8):
    return a.ctypes.data_as(C.POINTER(t))


def f32(x):
    return float(np.float32(x))


def act_range(act, scale, zp):
    """TFLite CalculateActivationRangeQuantized for int8."""
    def q(v):
        r = np.float32(v) / np.float32(scale)
        return zp + int(np.sign(r) * np.floor(np.abs(r) + np.float32(0.5)))
    lo, hi = -128, 127
    if act == 1:
        lo = max(lo, q(0.0))
    elif act == 3:
        lo, hi = max(lo, q(0.0)), min(hi, q(6.0))
    elif act == 2:
        lo, hi = max(lo, q(-1.0)), min(hi, q(1.0))
    return lo, hi


def padding(pad, size, k, stride, dil, out):
    if pad == 1:
        return 0
    eff = (k - 1) * dil + 1
    p = ((out - 1) * stride + eff - size) // 2
    return max(p, 0)


class Runner:
    def __init__(self, lib, table):
        self.lib = lib
        self.table = table

    def select(self, name, desc):
        self.check(getattr(self.lib, f"ci8_{name}_select")(self.table, C.byref(desc)))

    def buf(self, n):
        return np.zeros(max(int(n), 1) + 64, np.uint8)

    def aligned(self, b):
        addr = b.ctypes.data
        return C.c_void_p((addr + 63) // 64 * 64)

    def check(self, st):
        if st != 0:
            raise RuntimeError(f"C kernel returned status {st}")

    def run(self, case):
        T = case["tensors"]
        ins = [T[i] for i in case["op_inputs"] if i >= 0]
        out_t = T[case["op_outputs"][0]]
        feeds = {idx: v for idx, v in zip(case["inputs"], case["feeds"])}

        def val(t_idx):
            t = T[t_idx]
            return np.ascontiguousarray(t["data"] if t.get("data") is not None
                                        else feeds[t_idx])
        vals = [val(i) for i in case["op_inputs"] if i >= 0]
        op = case["op"]
        o = case.get("options", {})
        out = np.zeros(out_t["shape"], np.float32 if out_t["dtype"] == "float32" else np.int8)
        oq = (out_t.get("scale", [0])[0], out_t.get("zero_point", [0])[0])
        iq = (ins[0].get("scale", [0])[0], ins[0].get("zero_point", [0])[0])
        L = self.lib
        if op in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            x, w = vals[0], vals[1]
            bias = vals[2] if len(vals) > 2 else None
            n, h, wd, cin = x.shape
            _, oh, ow, cout = out.shape
            if op == "CONV_2D":
                kh, kw = w.shape[1], w.shape[2]
            else:
                kh, kw = w.shape[1], w.shape[2]
            fs = np.array(ins[1]["scale"], np.float32)
            lo, hi = act_range(o["FusedActivationFunction"], *oq)
            s = Conv(n, h, wd, cin, oh, ow, cout, kh, kw, o["StrideH"], o["StrideW"],
                     o["DilationHFactor"], o["DilationWFactor"],
                     padding(o["Padding"], h, kh, o["StrideH"], o["DilationHFactor"], oh),
                     padding(o["Padding"], wd, kw, o["StrideW"], o["DilationWFactor"], ow),
                     o.get("DepthMultiplier", 1), f32(iq[0]), f32(oq[0]), iq[1], oq[1], lo, hi,
                     ptr(fs, F), len(fs), None)
            self.select("conv2d" if op == "CONV_2D" else "depthwise_conv2d", s)
            k, a = ukernel(s, ConvUK), C.addressof(s)
            b = self.buf(k.prepared_size(a))
            bp = ptr(bias.astype(np.int32), I32) if bias is not None else None
            self.check(k.prepare(a, ptr(w), bp, self.aligned(b)))
            scratch = self.buf(k.scratch_size(a))
            k.run(a, ptr(x), ptr(out), self.aligned(scratch), 0, oh)
        elif op == "FULLY_CONNECTED":
            x, w = vals[0], vals[1]
            bias = vals[2] if len(vals) > 2 else None
            d_out, d_in = w.shape
            fs = np.array(ins[1]["scale"], np.float32)
            lo, hi = act_range(o["FusedActivationFunction"], *oq)
            batches = x.size // d_in
            s = FC(batches, d_in, d_out, f32(iq[0]), f32(oq[0]), iq[1], oq[1], lo, hi,
                   ptr(fs, F), len(fs), None)
            self.select("fully_connected", s)
            k, a = ukernel(s, ConvUK), C.addressof(s)
            b = self.buf(k.prepared_size(a))
            bp = ptr(bias.astype(np.int32), I32) if bias is not None else None
            self.check(k.prepare(a, ptr(w), bp, self.aligned(b)))
            scratch = self.buf(k.scratch_size(a))
            k.run(a, ptr(x), ptr(out), self.aligned(scratch), 0, batches)
        elif op in ("ADD", "MUL", "PRELU"):
            a, bb = vals[0], vals[1]
            oshape = list(out.shape)
            r = len(oshape)

            def strides(shape):
                shape = [1] * (r - len(shape)) + list(shape)
                st, acc = [0] * r, 1
                for d in range(r - 1, -1, -1):
                    st[d] = 0 if shape[d] == 1 and oshape[d] != 1 else acc
                    acc *= shape[d]
                return [0] * (MAXR - r) + st
            bc = Broadcast((I32 * MAXR)(*([1] * (MAXR - r) + oshape)),
                           (I32 * MAXR)(*strides(a.shape)), (I32 * MAXR)(*strides(bb.shape)))
            q2 = (ins[1]["scale"][0], ins[1]["zero_point"][0])
            lo, hi = act_range(o.get("FusedActivationFunction", 0), *oq)
            s = Binary(bc, f32(iq[0]), f32(q2[0]), f32(oq[0]), iq[1], q2[1], oq[1], lo, hi,
                       None)
            self.select(op.lower(), s)
            k, d = ukernel(s, BinaryUK), C.addressof(s)
            b = self.buf(k.prepared_size(d))
            self.check(k.prepare(d, self.aligned(b)))
            k.run(d, ptr(a), ptr(bb), ptr(out))
        elif op in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
            x = vals[0]
            n, h, wd, ch = x.shape
            oh, ow = out.shape[1], out.shape[2]
            lo, hi = act_range(o["FusedActivationFunction"], *oq)
            s = Pool(n, h, wd, ch, oh, ow, o["FilterHeight"], o["FilterWidth"], o["StrideH"],
                     o["StrideW"], padding(o["Padding"], h, o["FilterHeight"], o["StrideH"], 1,
                                           oh),
                     padding(o["Padding"], wd, o["FilterWidth"], o["StrideW"], 1, ow), lo, hi)
            self.select("max_pool2d" if op == "MAX_POOL_2D" else "average_pool2d", s)
            ukernel(s, PoolUK).run(C.addressof(s), ptr(x), ptr(out))
        elif op == "MEAN":
            x = vals[0]
            n, h, wd, ch = x.shape
            s = Mean(n, h, wd, ch, f32(iq[0]), f32(oq[0]), iq[1], oq[1], int(o["KeepDims"]),
                     None)
            self.select("mean_hw", s)
            k, a = ukernel(s, MeanUK), C.addressof(s)
            b = self.buf(k.prepared_size(a))
            self.check(k.prepare(a, self.aligned(b)))
            scratch = self.buf(k.scratch_size(a))
            k.run(a, ptr(x), ptr(out), self.aligned(scratch))
        elif op in ("PAD", "PADV2"):
            x, pads = vals[0], vals[1]
            r = x.ndim
            pv = int(vals[2][0]) if op == "PADV2" else int(oq[1])
            s = Pad((I32 * MAXR)(*([1] * (MAXR - r) + list(x.shape))),
                    (I32 * MAXR)(*([0] * (MAXR - r) + [int(p) for p in pads[:, 0]])),
                    (I32 * MAXR)(*([0] * (MAXR - r) + [int(p) for p in pads[:, 1]])), pv)
            L.ci8_pad_run(C.byref(s), ptr(x), ptr(out))
        elif op == "CONCATENATION":
            axis = o["Axis"] % out.ndim
            outer = int(np.prod(out.shape[:axis]))
            rows = np.array([v.size // outer for v in vals], np.int32)
            arr = (C.POINTER(C.c_int8) * len(vals))(*[ptr(v) for v in vals])
            s = Concat(outer, len(vals), ptr(rows, I32))
            L.ci8_concat_run(C.byref(s), arr, ptr(out))
        elif op == "RESHAPE":
            out[...] = vals[0].reshape(out.shape)
        elif op == "SOFTMAX":
            x = vals[0]
            depth = x.shape[-1]
            s = Softmax(x.size // depth, depth, f32(o["Beta"]), f32(iq[0]), f32(oq[0]), iq[1],
                        oq[1], None)
            self.select("softmax", s)
            k, a = ukernel(s, SoftmaxUK), C.addressof(s)
            b = self.buf(k.prepared_size(a))
            self.check(k.prepare(a, self.aligned(b)))
            k.run(a, ptr(x), ptr(out))
        elif op in ("LOGISTIC", "TANH", "RELU", "RELU6", "RELU_N1_TO_1", "LEAKY_RELU",
                    "HARD_SWISH") or (op == "QUANTIZE" and ins[0]["dtype"] == "int8"):
            x = vals[0]
            q = UnaryQ(f32(iq[0]), f32(oq[0]), iq[1], oq[1])
            table = np.zeros(256, np.int8)
            inf = float("inf")
            if op == "RELU":
                st = L.ci8_lut_relu(C.byref(q), F(0.0), F(inf), ptr(table))
            elif op == "RELU6":
                st = L.ci8_lut_relu(C.byref(q), F(0.0), F(6.0), ptr(table))
            elif op == "RELU_N1_TO_1":
                st = L.ci8_lut_relu(C.byref(q), F(-1.0), F(1.0), ptr(table))
            elif op == "LEAKY_RELU":
                st = L.ci8_lut_leaky_relu(C.byref(q), F(o["Alpha"]), ptr(table))
            elif op == "LOGISTIC":
                st = L.ci8_lut_logistic(C.byref(q), ptr(table))
            elif op == "TANH":
                st = L.ci8_lut_tanh(C.byref(q), ptr(table))
            elif op == "HARD_SWISH":
                st = L.ci8_lut_hard_swish(C.byref(q), ptr(table))
            else:
                st = L.ci8_lut_requantize(C.byref(q), ptr(table))
                self.check(st)
                block = np.zeros(256, np.int8)
                self.check(L.ci8_lut_requantize_block(C.byref(q), ptr(block)))
                L.ci8_lut_run_blocked(ptr(block), ptr(table), C.c_size_t(16), ptr(x), ptr(out),
                                      C.c_size_t(x.size))
                return out
            self.check(st)
            L.ci8_lut_run(ptr(table), ptr(x), ptr(out), C.c_size_t(x.size))
        elif op == "QUANTIZE":
            x = vals[0].astype(np.float32)
            L.ci8_quantize_f32_run(ptr(x, F), ptr(out), C.c_size_t(x.size), F(oq[0]),
                                   I32(oq[1]))
        elif op == "DEQUANTIZE":
            x = vals[0]
            L.ci8_dequantize_f32_run(ptr(x), ptr(out, F), C.c_size_t(x.size), F(iq[0]),
                                     I32(iq[1]))
        elif op in ("RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR"):
            x = vals[0]
            n, h, wd, ch = x.shape
            s = Resize(n, h, wd, ch, out.shape[1], out.shape[2], int(o["AlignCorners"]),
                       int(o["HalfPixelCenters"]))
            fn = (L.ci8_resize_nearest_run if op == "RESIZE_NEAREST_NEIGHBOR"
                  else L.ci8_resize_bilinear_run)
            fn(C.byref(s), ptr(x), ptr(out))
        else:
            raise NotImplementedError(op)
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-k", "--filter", default="", help="only cases whose name contains this")
    ap.add_argument("--seed", type=int, default=cases_mod.SEED,
                    help="case seed (default: the committed goldens' seed); other seeds stress "
                         "the kernels on fresh random cases")
    ap.add_argument("-v", "--verbose", action="store_true", help="show mismatching values")
    ap.add_argument("--kernels", default="reference", choices=list(ISAS),
                    help="kernel set whose micro-kernels run (default: reference)")
    args = ap.parse_args()
    lib = build_lib()
    table = C.c_void_p()
    st = lib.ci8_kernels_get(ISAS[args.kernels], C.byref(table))
    if st != 0:
        lib.ci8_status_message.restype = C.c_char_p
        print(f"--kernels {args.kernels}: {lib.ci8_status_message(st).decode()}")
        return 2
    runner = Runner(lib, table)
    stats = defaultdict(lambda: [0, 0])
    for case in cases_mod.all_cases(args.seed):
        if args.filter not in case["name"]:
            continue
        model = tflbuild.build_model(case)
        want = litert_run.run_model(model, case["feeds"])[0]
        try:
            got = runner.run(case)
            ok = got.tobytes() == want.tobytes()
        except Exception as e:  # noqa: BLE001
            print(f"{case['name']}: error {e}")
            ok, got = False, None
        key = case["op"] if case["op"] != "QUANTIZE" else (
            "QUANTIZE(f32)" if case["tensors"][case["inputs"][0]]["dtype"] == "float32"
            else "QUANTIZE(i8)")
        stats[key][1] += 1
        if ok:
            stats[key][0] += 1
        elif got is not None:
            g = got.reshape(-1).view(np.uint8) if got.dtype == np.float32 else got.reshape(-1)
            w = want.reshape(-1).view(np.uint8) if want.dtype == np.float32 else want.reshape(-1)
            diff = np.nonzero(g != w)[0]
            md = int(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
            print(f"{case['name']}: {len(diff)}/{g.size} differ, first {diff[0]}, max |diff| {md}")
            if args.verbose:
                print("  got ", got.reshape(-1)[diff[:12]])
                print("  want", want.reshape(-1)[diff[:12]])
    total_ok = sum(v[0] for v in stats.values())
    total = sum(v[1] for v in stats.values())
    for k in sorted(stats):
        print(f"  {k:26s} {stats[k][0]:3d}/{stats[k][1]}")
    print(f"kernel bit-exact: {total_ok}/{total}")
    return 0 if total_ok == total else 1


if __name__ == "__main__":
    sys.exit(main())
