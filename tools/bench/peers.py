"""facecam vs LiteRT (XNNPACK and built-in kernels) on the same models, same run, one thread.

Each runtime runs in its own process so peak RSS is per runtime. Latency is min/median/p90 of
timed invocations after a warm-up; the ratio column is LiteRT's median over facecam's (>1 means
facecam is faster). Figures on a shared 2-core VM are noisy: compare ratios within one run.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def litert_child(model: str, builtin: bool, iterations: int, warmup: int) -> dict:
    import numpy as np
    from ai_edge_litert import interpreter as tfl

    t0 = time.perf_counter()
    kwargs = dict(model_path=model, num_threads=1)
    if builtin:
        kwargs["experimental_op_resolver_type"] = tfl.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    it = tfl.Interpreter(**kwargs)
    it.allocate_tensors()
    load_ms = (time.perf_counter() - t0) * 1e3
    rng = np.random.default_rng(0)
    for d in it.get_input_details():
        info = np.iinfo(d["dtype"]) if np.issubdtype(d["dtype"], np.integer) else None
        x = rng.integers(info.min, info.max + 1, size=d["shape"], dtype=d["dtype"]) if info else rng.standard_normal(d["shape"]).astype(d["dtype"])
        it.set_tensor(d["index"], x)
    for _ in range(warmup):
        it.invoke()
    samples = []
    for _ in range(iterations):
        t = time.perf_counter()
        it.invoke()
        samples.append((time.perf_counter() - t) * 1e3)
    samples.sort()
    return {
        "load_ms": load_ms,
        "latency_ms": {"min": samples[0], "median": samples[len(samples) // 2],
                       "p90": samples[min(len(samples) - 1, int(len(samples) * 0.9 + 0.999) - 1)]},
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def run_litert(model, builtin, iterations, warmup):
    out = subprocess.run([sys.executable, __file__, "--child", model, "--builtin" if builtin else "--xnnpack",
                          "--iterations", str(iterations), "--warmup", str(warmup)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_facecam(facecam, model, iterations, warmup):
    out = subprocess.run([facecam, "bench", model, "--threads", "1", "--iterations", str(iterations),
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
    a = ap.parse_args()
    if a.child:
        print(json.dumps(litert_child(a.child, a.builtin, a.iterations, a.warmup)))
        return
    models = a.models or sorted(glob.glob(os.path.join(ROOT, "models", "*.tflite")))
    rows = []
    for m in models:
        fc = run_facecam(a.facecam, m, a.iterations, a.warmup)
        xnn = run_litert(m, False, a.iterations, a.warmup)
        blt = run_litert(m, True, a.iterations, a.warmup)
        rows.append({"model": os.path.relpath(m, ROOT), "facecam": fc, "litert_xnnpack": xnn, "litert_builtin": blt})
    if a.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"single thread, {a.iterations} timed runs after {a.warmup} warm-up; median ms (ratio = peer / facecam, >1: facecam faster)")
    print(f"{'model':26} {'facecam':>9} {'xnnpack':>9} {'ratio':>6} {'builtin':>9} {'ratio':>6} "
          f"{'arena KiB':>9} {'load ms':>8} {'RSS MiB fc/xnn/blt':>20}  kernels")
    for r in rows:
        f, x, b = r["facecam"], r["litert_xnnpack"], r["litert_builtin"]
        fm, xm, bm = f["latency_ms"]["median"], x["latency_ms"]["median"], b["latency_ms"]["median"]
        rss = "/".join(f"{v / 2**20:.0f}" for v in (f["peak_rss_bytes"], x["peak_rss_bytes"], b["peak_rss_bytes"]))
        print(f"{r['model']:26} {fm:9.3f} {xm:9.3f} {xm / fm:6.2f} {bm:9.3f} {bm / fm:6.2f} "
              f"{f['arena_bytes'] / 1024:9.1f} {f['load_ms']:8.2f} {rss:>20}  {f['kernels']}")
    print("load ms: facecam parse+validate+pack+plan; LiteRT load+allocate_tensors: "
          + ", ".join(f"{os.path.basename(r['model'])} xnn {r['litert_xnnpack']['load_ms']:.1f} / builtin {r['litert_builtin']['load_ms']:.1f}" for r in rows))


if __name__ == "__main__":
    main()
