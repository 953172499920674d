#!/usr/bin/env python3
"""compare-litert: golden cases vs LiteRT (built-in kernels) vs facecam, byte for byte.

Steps:
  1. Regenerates the single-op cases (tools/oracle/cases.py, fixed seeds) in a temporary
     directory and checks that they equal Tests/Int8RuntimeTests/Golden/ops/ (model, inputs and
     LiteRT outputs); stale or missing goldens fail. With --update they are written there instead.
     The same for Golden/refused/ (models facecam must refuse, with the error they must give;
     checked by GoldenTests.testRefusedModelsFailWithClearErrors, not run here).
  2. Recomputes the outputs of every model case in Tests/Int8RuntimeTests/Golden/models/<case>/
     (model-ref.txt names a repo-relative .tflite; input<i>.bin given) with LiteRT and compares
     them with the committed output<i>.bin.
  3. Unless --no-facecam: runs `facecam invoke MODEL --kernels SET -i input0.bin ... -o out0.bin
     ...` on every case, once per kernel set that runs on this machine (reference, avx2, neon,
     neon-dot; a set facecam refuses as not built or not supported here is listed as skipped),
     and compares each output with the golden bytes. The binary is $FACECAM, or else
     `swift build -c release --product facecam` is run and its bin path used.

With --mlperf-tiny [N]: only the MLPerf Tiny int8 models instead (tools/oracle/mlperf_tiny.py):
fetched by tools/mlperf-tiny/fetch, N random inputs each (default 8), facecam with its best and
its reference kernels vs LiteRT built-in; `identical: N/M` counts outputs x inputs x kernel sets.

Output: one line per differing output (case, output index, first differing byte, max abs diff
in the tensor's type), then per kernel set `identical: N/M (kernels SET)` where M counts outputs
(cases x outputs per case) and N those that were identical in every step that ran, and last
`identical: N/M` over every set. Exit status 0 only if N == M and no golden was stale.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate  # noqa: E402
import litert_run  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "Tests" / "Int8RuntimeTests" / "Golden"
OPS = GOLDEN / "ops"
REFUSED = GOLDEN / "refused"
MODELS = GOLDEN / "models"


def numbered(d, prefix):
    files = []
    i = 0
    while (d / f"{prefix}{i}.bin").exists():
        files.append(d / f"{prefix}{i}.bin")
        i += 1
    return files


def describe_diff(got, want, dtype):
    """First differing byte index and max abs diff (in the tensor's type) of two byte strings."""
    n = min(len(got), len(want))
    a = np.frombuffer(got[:n], np.uint8)
    b = np.frombuffer(want[:n], np.uint8)
    diff = np.nonzero(a != b)[0]
    first = int(diff[0]) if len(diff) else n
    item = np.dtype(dtype).itemsize
    if len(got) == len(want) and len(got) % item == 0:
        ga = np.frombuffer(got, dtype).astype(np.float64)
        wa = np.frombuffer(want, dtype).astype(np.float64)
        with np.errstate(invalid="ignore"):
            md = np.nanmax(np.abs(ga - wa)) if ga.size else 0.0
        mds = f"{md:g}"
    else:
        mds = f"n/a (size {len(got)} vs {len(want)})"
    return first, mds


def model_of(case_dir):
    if (case_dir / "model.tflite").exists():
        return case_dir / "model.tflite"
    ref = (case_dir / "model-ref.txt").read_text().strip()
    return ROOT / ref


def output_dtypes(model_path):
    _, outs = litert_run.io_details(model_path)
    return [o["dtype"] for o in outs]


def check_ops(update, problems):
    """Single-op goldens (Golden/ops) and the models facecam must refuse (Golden/refused)."""
    for target, make in ((OPS, generate.generate), (REFUSED, generate.generate_refused)):
        check_generated(target, make, update, problems)


def check_generated(target, make, update, problems):
    tmp = Path(tempfile.mkdtemp(prefix="facecam-ops-"))
    group = target.name
    try:
        names = make(tmp)
        if update:
            if target.exists():
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(tmp, target)
            print(f"updated {len(names)} cases in {target.relative_to(ROOT)}")
            return
        committed = sorted(p.name for p in target.iterdir() if p.is_dir()) if target.exists() else []
        for name in sorted(set(committed) - set(names)):
            problems.append(f"stale golden: {group}/{name} is not generated any more")
        for name in names:
            fresh, old = tmp / name, target / name
            if not old.exists():
                problems.append(f"stale golden: {group}/{name} missing (run with --update)")
                continue
            fresh_files = sorted(p.name for p in fresh.iterdir())
            old_files = sorted(p.name for p in old.iterdir())
            if fresh_files != old_files:
                problems.append(f"stale golden: {group}/{name} has files {old_files}, "
                                f"expected {fresh_files}")
                continue
            for f in fresh_files:
                if (fresh / f).read_bytes() != (old / f).read_bytes():
                    problems.append(f"stale golden: {group}/{name}/{f} differs from regenerated")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_models(problems, verdict):
    if not MODELS.exists():
        return
    for d in sorted(p for p in MODELS.iterdir() if p.is_dir()):
        model = model_of(d)
        if not model.exists():
            problems.append(f"models/{d.name}: model {model} not found")
            continue
        ins, _ = litert_run.io_details(model)
        feeds = [np.frombuffer(f.read_bytes(), dtype=np.dtype(i["dtype"]).newbyteorder("<"))
                 for f, i in zip(numbered(d, "input"), ins)]
        outs = litert_run.run_model(model, feeds)
        wants = numbered(d, "output")
        if len(wants) != len(outs):
            problems.append(f"models/{d.name}: {len(wants)} output files, model has {len(outs)}")
        for k, (o, w) in enumerate(zip(outs, wants)):
            got = np.ascontiguousarray(o, o.dtype.newbyteorder("<")).tobytes()
            want = w.read_bytes()
            if got != want:
                first, md = describe_diff(got, want, o.dtype)
                print(f"models/{d.name} output{k}: LiteRT differs from golden at byte {first}, "
                      f"max abs diff {md}")
                verdict[(f"models/{d.name}", k)] = False


def facecam_binary():
    env = os.environ.get("FACECAM")
    if env:
        return env
    subprocess.run(["swift", "build", "-c", "release", "--product", "facecam"], cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)
    bin_dir = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT,
                             check=True, capture_output=True, text=True).stdout.strip()
    return str(Path(bin_dir) / "facecam")


KERNEL_SETS = ("reference", "avx2", "neon", "neon-dot")
UNAVAILABLE = ("is not built for this architecture", "is not supported by this CPU")


def kernel_set_runs(exe, kernels, case_dirs):
    """True when facecam accepts --kernels here; False (and a note) when it refuses the set."""
    label, d = case_dirs[0]
    r = subprocess.run([exe, "invoke", str(model_of(d)), "--kernels", kernels] +
                       [a for f in numbered(d, "input") for a in ("-i", str(f))],
                       capture_output=True, text=True)
    msg = (r.stderr or r.stdout).strip()
    if r.returncode != 0 and any(u in msg for u in UNAVAILABLE):
        why = next(line for line in msg.splitlines() if any(u in line for u in UNAVAILABLE))
        print(f"kernels {kernels}: skipped ({why.removeprefix('Error: ')})")
        return False
    return True


def check_facecam(case_dirs, verdict, exe, kernels):
    tmp = Path(tempfile.mkdtemp(prefix="facecam-out-"))
    try:
        for label, d in case_dirs:
            model = model_of(d)
            wants = numbered(d, "output")
            outs = [tmp / f"out{k}.bin" for k in range(len(wants))]
            for o in outs:
                if o.exists():
                    o.unlink()
            cmd = [exe, "invoke", str(model), "--kernels", kernels]
            for f in numbered(d, "input"):
                cmd += ["-i", str(f)]
            for o in outs:
                cmd += ["-o", str(o)]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                msg = (r.stderr or r.stdout).strip().splitlines()
                print(f"{label} ({kernels}): facecam failed ({r.returncode}): {msg[-1] if msg else ''}")
                for k in range(len(wants)):
                    verdict[(label, k)] = False
                continue
            dtypes = None
            for k, (o, w) in enumerate(zip(outs, wants)):
                got = o.read_bytes() if o.exists() else b""
                want = w.read_bytes()
                if got != want:
                    if dtypes is None:
                        dtypes = output_dtypes(model)
                    first, md = describe_diff(got, want, dtypes[k])
                    print(f"{label} output{k} ({kernels}): first differing byte {first}, max abs diff "
                          f"{md}")
                    verdict[(label, k)] = False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(prog="compare-litert", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--update", action="store_true",
                    help="write the regenerated single-op cases into Golden/ops/")
    ap.add_argument("--no-facecam", action="store_true",
                    help="only check goldens against LiteRT (steps 1 and 2)")
    ap.add_argument("--mlperf-tiny", type=int, nargs="?", const=8, metavar="N",
                    help="check the MLPerf Tiny models on N random inputs each (default 8) instead")
    args = ap.parse_args()

    if args.mlperf_tiny is not None:
        import mlperf_tiny
        ok, total = mlperf_tiny.check(facecam_binary(), args.mlperf_tiny, ["best", "reference"], describe_diff)
        print(f"identical: {ok}/{total}")
        return 0 if ok == total and total > 0 else 1

    problems = []
    check_ops(args.update, problems)
    for p in problems:
        print(p)

    case_dirs = []
    for base, label in ((OPS, "ops"), (MODELS, "models")):
        if base.exists():
            case_dirs += [(f"{label}/{d.name}", d) for d in sorted(base.iterdir()) if d.is_dir()]
    verdict = {}
    for label, d in case_dirs:
        for k in range(len(numbered(d, "output"))):
            verdict[(label, k)] = True

    check_models(problems, verdict)
    ok, total = sum(verdict.values()), len(verdict)
    if not args.no_facecam:
        exe = facecam_binary()
        ok = total = 0
        for kernels in KERNEL_SETS:
            if not kernel_set_runs(exe, kernels, case_dirs):
                continue
            per_set = dict(verdict)
            check_facecam(case_dirs, per_set, exe, kernels)
            n = sum(per_set.values())
            print(f"identical: {n}/{len(per_set)} (kernels {kernels})")
            ok, total = ok + n, total + len(per_set)
        if total == 0:
            print("no kernel set ran")
            problems.append("no kernel set ran")
    print(f"identical: {ok}/{total}")
    return 0 if ok == total and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
