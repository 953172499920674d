#!/usr/bin/env python3
"""Writes the single-op golden cases: <out>/<case>/model.tflite, input<i>.bin, output<i>.bin.

Inputs and outputs are raw little-endian tensor bytes in the tensor's own type, in the order of
the model's SubGraph inputs/outputs. Expected outputs come from LiteRT's built-in kernels.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cases as cases_mod  # noqa: E402
import litert_run  # noqa: E402
import tflbuild  # noqa: E402


def case_files(case):
    """Returns {file name: bytes} for one case."""
    model = tflbuild.build_model(case)
    outputs = litert_run.run_model(model, case["feeds"])
    files = {"model.tflite": model}
    for i, (idx, value) in enumerate(zip(case["inputs"], case["feeds"])):
        dtype = tflbuild.DTYPES[case["tensors"][idx]["dtype"]][1]
        files[f"input{i}.bin"] = np.ascontiguousarray(value, dtype=np.dtype(dtype).newbyteorder(
            "<")).tobytes()
    for i, value in enumerate(outputs):
        files[f"output{i}.bin"] = np.ascontiguousarray(
            value, dtype=value.dtype.newbyteorder("<")).tobytes()
    return files


def generate(out_dir, seed=cases_mod.SEED):
    out_dir = Path(out_dir)
    names = []
    for case in cases_mod.all_cases(seed):
        d = out_dir / case["name"]
        d.mkdir(parents=True, exist_ok=True)
        for name, data in case_files(case).items():
            (d / name).write_bytes(data)
        names.append(case["name"])
    return names


def generate_refused(out_dir):
    """Writes <out>/<case>/model.tflite and expect-error.txt for the models facecam must refuse."""
    out_dir = Path(out_dir)
    names = []
    for case, expect in cases_mod.refused_cases():
        d = out_dir / case["name"]
        d.mkdir(parents=True, exist_ok=True)
        (d / "model.tflite").write_bytes(tflbuild.build_model(case))
        (d / "expect-error.txt").write_text(expect + "\n")
        names.append(case["name"])
    return names


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out_dir")
    args = ap.parse_args()
    names = generate(args.out_dir)
    print(f"wrote {len(names)} cases to {args.out_dir}")


if __name__ == "__main__":
    main()
