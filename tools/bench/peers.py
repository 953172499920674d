"""facecam vs LiteRT (XNNPACK and built-in kernels) and ONNX Runtime on the same models, same run,
one thread (--threads 2: every runtime with 2 threads; --threads 1,2: both, one table each, plus
each runtime's speed-up).

Each runtime runs in its own process so peak RSS is per runtime. Latency is min/median/p90 of
timed invocations after a warm-up; the ratio columns are the peer's median over facecam's (>1 means
facecam is faster). Figures on a shared 2-core VM are noisy: compare ratios within one run.

ONNX Runtime runs an ONNX QDQ model made from the same .tflite by tools/bench/tflite_to_onnx.py
(same scales and zero points; cached in tools/.cache/onnx/), with ORT_SETTINGS below. The graph
optimization level is ORT_ENABLE_ALL where it loads and deviates from LiteRT built-in by no more
than ORT_ENABLE_EXTENDED does, else ORT_ENABLE_EXTENDED. A model that cannot be converted or loaded
gets "n/a" and the reason instead of failing the run.

By default the MLPerf Tiny int8 models (tools/mlperf-tiny/, fetched into tools/.cache/mlperf-tiny/
by tools/mlperf-tiny/fetch) run after the shipped ones, and the geometric mean of facecam/XNNPACK
median time over them is printed (--no-mlperf-tiny leaves them out).
"""
from __future__ import annotations

import argparse
import glob
import json
import math
import os
import resource
import subprocess
import sys
import time

from ort_session import ORT_SETTINGS, ort_session

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ONNX_CACHE = os.path.join(ROOT, "tools", ".cache", "onnx")
MLPERF_TINY_FETCH = os.path.join(ROOT, "tools", "mlperf-tiny", "fetch.py")


def mlperf_tiny_models():
    out = subprocess.run([sys.executable, MLPERF_TINY_FETCH], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"bench-peers: fetching the MLPerf Tiny models failed: {out.stderr.strip()}")
    return out.stdout.split()


def random_inputs(details, rng):
    """Same inputs for every runtime: (name, array) per input, in the model's order."""
    import numpy as np
    out = []
    for name, shape, dtype in details:
        dtype = np.dtype(dtype)
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            out.append((name, rng.integers(info.min, info.max + 1, size=shape, dtype=dtype)))
        else:
            out.append((name, rng.standard_normal(shape).astype(dtype)))
    return out


def time_calls(fn, iterations, warmup):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(iterations):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1e3)
    samples.sort()
    return {"min": samples[0], "median": samples[len(samples) // 2],
            "p90": samples[min(len(samples) - 1, int(len(samples) * 0.9 + 0.999) - 1)]}


def litert_child(model: str, builtin: bool, iterations: int, warmup: int, threads: int) -> dict:
    import numpy as np
    from ai_edge_litert import interpreter as tfl

    t0 = time.perf_counter()
    kwargs = dict(model_path=model, num_threads=threads)
    if builtin:
        kwargs["experimental_op_resolver_type"] = tfl.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    it = tfl.Interpreter(**kwargs)
    it.allocate_tensors()
    load_ms = (time.perf_counter() - t0) * 1e3
    details = it.get_input_details()
    inputs = random_inputs([(d["name"], d["shape"], d["dtype"]) for d in details], np.random.default_rng(0))
    for d, (_, x) in zip(details, inputs):
        it.set_tensor(d["index"], x)
    return {
        "load_ms": load_ms,
        "latency_ms": time_calls(it.invoke, iterations, warmup),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def ort_child(onnx_path: str, level: str, iterations: int, warmup: int, threads: int) -> dict:
    import numpy as np

    t0 = time.perf_counter()
    sess = ort_session(onnx_path, level, threads)
    load_ms = (time.perf_counter() - t0) * 1e3
    types = {"tensor(int8)": np.int8, "tensor(uint8)": np.uint8, "tensor(float)": np.float32}
    inputs = random_inputs([(i.name, i.shape, types[i.type]) for i in sess.get_inputs()], np.random.default_rng(0))
    feed = dict(inputs)
    return {
        "load_ms": load_ms,
        "latency_ms": time_calls(lambda: sess.run(None, feed), iterations, warmup),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def run_child(args):
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError((out.stderr.strip().splitlines() or ["exit %d" % out.returncode])[-1])
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_litert(model, builtin, iterations, warmup, threads):
    return run_child(["--child", model, "--builtin" if builtin else "--xnnpack",
                      "--iterations", str(iterations), "--warmup", str(warmup), "--threads", str(threads)])


def prepare_ort(model):
    """Converts MODEL to ONNX QDQ (cached), checks it against LiteRT built-in and picks the graph
    optimization level. Returns a dict with onnx path, level and LSB deviations, or {"error": ...}."""
    import onnxruntime
    from tflite_to_onnx import convert, max_lsb_deviation, max_lsb_deviation_per_op
    import onnx

    name = os.path.splitext(os.path.basename(model))[0]
    path = os.path.join(ONNX_CACHE, name + ".onnx")
    try:
        os.makedirs(ONNX_CACHE, exist_ok=True)
        onnx.save(convert(model), path)
    except Exception as e:
        return {"error": f"conversion failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}"}
    info = {"onnx": os.path.relpath(path, ROOT), "onnxruntime": onnxruntime.__version__, "settings": ORT_SETTINGS}
    deviation = {}
    for level in ("extended", "all"):
        try:
            deviation[level] = max_lsb_deviation(model, path, level)
        except Exception as e:
            deviation[level] = None
            info[f"{level}_error"] = (str(e).splitlines() or [type(e).__name__])[0][:160]
    if deviation["extended"] is None and deviation["all"] is None:
        return {"error": "ORT failed to load: " + info.get("extended_error", "?")}
    use_all = deviation["all"] is not None and (deviation["extended"] is None or deviation["all"] <= deviation["extended"])
    info["level"] = "all" if use_all else "extended"
    info["max_lsb_vs_litert_builtin"] = deviation[info["level"]]
    info["max_lsb_vs_litert_builtin_by_level"] = deviation
    try:
        info["max_lsb_single_op"] = max_lsb_deviation_per_op(model)
    except Exception as e:
        info["max_lsb_single_op"] = None
    return info


def run_ort(model, iterations, warmup, threads):
    # Conversion and checking import onnx, ORT and LiteRT: done in a child of their own so that this
    # process stays small (Linux carries a parent's peak RSS into a forked child's ru_maxrss).
    try:
        info = run_child(["--prepare-ort", model])
    except Exception as e:
        return {"error": f"conversion/check failed: {e}"}
    if "error" in info:
        return info
    try:
        res = run_child(["--child", os.path.join(ROOT, info["onnx"]), "--ort-level", info["level"],
                         "--iterations", str(iterations), "--warmup", str(warmup), "--threads", str(threads)])
    except Exception as e:
        return {**info, "error": f"ORT run failed: {e}"}
    return {**info, **res}


def run_facecam(facecam, model, iterations, warmup, threads):
    out = subprocess.run([facecam, "bench", model, "--threads", str(threads), "--iterations", str(iterations),
                          "--warmup", str(warmup), "--json"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="*")
    ap.add_argument("--facecam")
    ap.add_argument("--iterations", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child")
    ap.add_argument("--builtin", action="store_true")
    ap.add_argument("--xnnpack", action="store_true")
    ap.add_argument("--ort-level")
    ap.add_argument("--prepare-ort")
    ap.add_argument("--no-mlperf-tiny", action="store_true", help="leave out the MLPerf Tiny models")
    ap.add_argument("--threads", default="1",
                    help="threads for every runtime; a comma list (1,2) runs each count in the same run")
    a = ap.parse_args()
    counts = [int(t) for t in str(a.threads).split(",")]
    if not counts or min(counts) < 1:
        raise SystemExit("bench-peers: --threads takes positive counts, e.g. 2 or 1,2")
    if a.prepare_ort:
        print(json.dumps(prepare_ort(a.prepare_ort)))
        return
    if a.child:
        if a.ort_level:
            print(json.dumps(ort_child(a.child, a.ort_level, a.iterations, a.warmup, counts[0])))
        else:
            print(json.dumps(litert_child(a.child, a.builtin, a.iterations, a.warmup, counts[0])))
        return
    models = a.models or sorted(glob.glob(os.path.join(ROOT, "models", "*.tflite")))
    tiny = [] if a.models or a.no_mlperf_tiny else mlperf_tiny_models()
    models = models + tiny
    by_count = {t: [] for t in counts}
    for m in models:
        for t in counts:  # the thread counts of one model back to back: the closest in time
            fc = run_facecam(a.facecam, m, a.iterations, a.warmup, t)
            xnn = run_litert(m, False, a.iterations, a.warmup, t)
            blt = run_litert(m, True, a.iterations, a.warmup, t)
            ort = run_ort(m, a.iterations, a.warmup, t)
            by_count[t].append({"model": os.path.relpath(m, ROOT), "suite": "mlperf-tiny" if m in tiny else "shipped",
                                "threads": t, "facecam": fc, "litert_xnnpack": xnn, "litert_builtin": blt,
                                "onnxruntime": ort})
    if a.json:
        print(json.dumps([r for t in counts for r in by_count[t]], indent=1))
        return
    for t in counts:
        print_table(by_count[t], t, a)
    if len(counts) > 1:
        print_scaling(by_count, counts)


def print_scaling(by_count, counts):
    """Each runtime's median at 1 (the first count) over its median at the others."""
    base = counts[0]
    keys = (("facecam", "facecam"), ("litert_xnnpack", "xnnpack"), ("litert_builtin", "builtin"), ("onnxruntime", "ort"))
    for t in counts[1:]:
        print(f"speed-up from {base} to {t} threads (median at {base} / median at {t}), same run:")
        print(f"{'model':32} " + " ".join(f"{label:>8}" for _, label in keys))
        for r0, r1 in zip(by_count[base], by_count[t]):
            cells = []
            for key, _ in keys:
                ok = "latency_ms" in r0[key] and "latency_ms" in r1[key]
                cells.append(f"{r0[key]['latency_ms']['median'] / r1[key]['latency_ms']['median']:8.2f}" if ok else f"{'n/a':>8}")
            shown = "mlperf-tiny/" + os.path.basename(r0["model"])[:-7] if r0["suite"] == "mlperf-tiny" else r0["model"]
            print(f"{shown:32} " + " ".join(cells))
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")


def print_table(rows, threads, a):
    tiny_rows = [r for r in rows if r["suite"] == "mlperf-tiny"]
    geomean = None
    if tiny_rows:
        ratios = [r["facecam"]["latency_ms"]["median"] / r["litert_xnnpack"]["latency_ms"]["median"] for r in tiny_rows]
        geomean = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
    shown_threads = "single thread" if threads == 1 else f"{threads} threads (every runtime)"
    print(f"{shown_threads}, {a.iterations} timed runs after {a.warmup} warm-up; median ms (ratio = peer / facecam, >1: facecam faster)")
    print(f"{'model':32} {'facecam':>9} {'xnnpack':>9} {'ratio':>6} {'builtin':>9} {'ratio':>6} {'ort':>9} {'ratio':>6} "
          f"{'arena KiB':>9} {'load ms':>8} {'RSS MiB fc/xnn/blt/ort':>23}  kernels")
    for r in rows:
        f, x, b, o = r["facecam"], r["litert_xnnpack"], r["litert_builtin"], r["onnxruntime"]
        fm, xm, bm = f["latency_ms"]["median"], x["latency_ms"]["median"], b["latency_ms"]["median"]
        ort_ok = "error" not in o
        ort_cols = f"{o['latency_ms']['median']:9.3f} {o['latency_ms']['median'] / fm:6.2f}" if ort_ok else f"{'n/a':>9} {'n/a':>6}"
        rss = "/".join(f"{v / 2**20:.0f}" for v in (f["peak_rss_bytes"], x["peak_rss_bytes"], b["peak_rss_bytes"]))
        rss += "/" + (f"{o['peak_rss_bytes'] / 2**20:.0f}" if ort_ok else "n/a")
        shown = "mlperf-tiny/" + os.path.basename(r["model"])[:-7] if r["suite"] == "mlperf-tiny" else r["model"]
        print(f"{shown:32} {fm:9.3f} {xm:9.3f} {xm / fm:6.2f} {bm:9.3f} {bm / fm:6.2f} {ort_cols} "
              f"{f['arena_bytes'] / 1024:9.1f} {f['load_ms']:8.2f} {rss:>23}  {f['kernels']}")
    print("load ms: facecam parse+validate+pack+plan; LiteRT load+allocate_tensors; ORT InferenceSession(): "
          + ", ".join(f"{os.path.basename(r['model'])} xnn {r['litert_xnnpack']['load_ms']:.1f} / builtin {r['litert_builtin']['load_ms']:.1f}"
                     + ("" if "error" in r["onnxruntime"] else f" / ort {r['onnxruntime']['load_ms']:.1f}") for r in rows))
    if geomean is not None:
        print(f"MLPerf Tiny ({len(tiny_rows)} models): geometric mean of facecam / LiteRT+XNNPACK median time = {geomean:.2f} "
              "(<1: facecam faster)")
    version = next((r["onnxruntime"]["onnxruntime"] for r in rows if "onnxruntime" in r["onnxruntime"]), "?")
    print(f"ort: onnxruntime {version}, {ORT_SETTINGS.replace('<threads>', str(threads))}; QDQ model from tools/bench/tflite_to_onnx.py; "
          "max |ORT - LiteRT built-in| over outputs on 4 random inputs, in int8 steps (single op in isolation in parentheses):")
    for r in rows:
        o = r["onnxruntime"]
        if "error" in o and "level" not in o:
            print(f"  {os.path.basename(r['model'])}: n/a ({o['error']})")
            continue
        level = "ORT_ENABLE_ALL" if o["level"] == "all" else "ORT_ENABLE_EXTENDED"
        other = {k: v for k, v in o["max_lsb_vs_litert_builtin_by_level"].items() if k != o["level"]}
        note = ", ".join(f"{k}: {v if v is not None else 'failed to load'}" for k, v in other.items())
        err = f"; n/a: {o['error']}" if "error" in o else ""
        print(f"  {os.path.basename(r['model'])}: {level}, {o['max_lsb_vs_litert_builtin']} LSB "
              f"({o['max_lsb_single_op']} LSB per op; other level {note}){err}")


if __name__ == "__main__":
    main()
