"""Calibration crops for the verifier's shipped source statistics (models/onet.source-stats).

    make_calibration.py OUT.crops

The lfw_subset images of make-models' calibration split (faces 0-59, non-faces 100-159),
prepared exactly like the shift benchmark's crop streams (48x48 RGB, bilinear upscale), so
the statistics describe the verifier's source data and never include the held-out split.
"""
import sys
from pathlib import Path

import numpy as np

import make_data as D


def main():
    out = Path(sys.argv[1])
    crops, labels = D.lfw_crops()
    keep = list(D.C.LFW_CALIB_FACES) + list(D.C.LFW_CALIB_NONFACES)
    out.parent.mkdir(parents=True, exist_ok=True)
    D.write_crops(out, crops[keep], labels[keep])
    print(f"{out}: {len(keep)} calibration crops ({int(labels[keep].sum())} faces)", file=sys.stderr)


if __name__ == "__main__":
    main()
