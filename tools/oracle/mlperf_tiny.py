"""compare-litert --mlperf-tiny: the MLPerf Tiny int8 models (tools/mlperf-tiny/) on random inputs,
facecam (each kernel set) vs LiteRT's built-in kernels, byte for byte.

Inputs are seeded. int8 inputs are uniform over [-128, 127]. Float inputs (models that start with
QUANTIZE) are drawn over the quantized range widened by 10% on each side (so saturation is hit),
and a quarter of the elements sit exactly halfway between two quantization steps, where a
rounding-mode difference would show.
"""
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
FETCH = ROOT / "tools" / "mlperf-tiny" / "fetch.py"


def fetch_models():
    r = subprocess.run([sys.executable, str(FETCH)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError((r.stderr or r.stdout).strip())
    return [Path(line) for line in r.stdout.split()]


def _input_quantization(interp, detail):
    """(scale, zero point) that a float input is quantized with: its QUANTIZE consumer's output."""
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    for op in interp._get_ops_details():
        if op["op_name"] == "QUANTIZE" and detail["index"] in list(op["inputs"]):
            scale, zp = tensors[int(op["outputs"][0])]["quantization"]
            return float(scale), int(zp)
    return None


def random_inputs(model, rng):
    from ai_edge_litert.interpreter import Interpreter
    interp = Interpreter(model_path=str(model))
    feeds = []
    for d in interp.get_input_details():
        shape, dtype = tuple(d["shape"]), np.dtype(d["dtype"])
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            feeds.append(rng.integers(info.min, info.max + 1, size=shape, dtype=dtype))
            continue
        q = _input_quantization(interp, d)
        if q is None:
            feeds.append(rng.standard_normal(shape).astype(dtype))
            continue
        scale, zp = q
        lo, hi = (-128 - zp) * scale, (127 - zp) * scale
        span = hi - lo
        x = rng.uniform(lo - 0.1 * span, hi + 0.1 * span, size=shape)
        halfway = (rng.integers(-128, 127, size=shape) - zp + 0.5) * scale
        x = np.where(rng.random(shape) < 0.25, halfway, x)
        feeds.append(x.astype(dtype))
    return feeds


def check(exe, count, kernel_sets, describe_diff):
    """Returns (identical, total) over models x inputs x outputs x kernel sets; prints differences."""
    import litert_run
    models = fetch_models()
    ok = total = 0
    tmp = Path(tempfile.mkdtemp(prefix="facecam-mlperf-"))
    for model in models:
        rng = np.random.default_rng(20261203)
        model_ok = model_total = 0
        for k in range(count):
            feeds = random_inputs(model, rng)
            wants = litert_run.run_model(model, feeds)
            ins = []
            for i, x in enumerate(feeds):
                p = tmp / f"in{i}.bin"
                p.write_bytes(np.ascontiguousarray(x, x.dtype.newbyteorder("<")).tobytes())
                ins += ["-i", str(p)]
            for kernels in kernel_sets:
                outs = [tmp / f"out{j}.bin" for j in range(len(wants))]
                for o in outs:
                    o.unlink(missing_ok=True)
                cmd = [exe, "invoke", str(model), *ins]
                for o in outs:
                    cmd += ["-o", str(o)]
                if kernels == "reference":
                    cmd.append("--reference")
                r = subprocess.run(cmd, capture_output=True, text=True)
                for j, want in enumerate(wants):
                    model_total += 1
                    want_bytes = np.ascontiguousarray(want, want.dtype.newbyteorder("<")).tobytes()
                    if r.returncode != 0:
                        msg = (r.stderr or r.stdout).strip().splitlines()
                        print(f"mlperf-tiny/{model.stem} input {k} ({kernels}): facecam failed: {msg[-1] if msg else r.returncode}")
                        continue
                    got = outs[j].read_bytes()
                    if got == want_bytes:
                        model_ok += 1
                    else:
                        first, md = describe_diff(got, want_bytes, want.dtype)
                        print(f"mlperf-tiny/{model.stem} input {k} output{j} ({kernels}): "
                              f"first differing byte {first}, max abs diff {md}")
        print(f"mlperf-tiny/{model.stem}: {model_ok}/{model_total} outputs identical "
              f"({count} inputs, kernels: {', '.join(kernel_sets)})")
        ok += model_ok
        total += model_total
    return ok, total
