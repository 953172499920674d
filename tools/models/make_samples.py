"""samples/: demo images as binary PPM (P6, RGB), longest side <= 320 px, from packages only.

Full images are downscaled with PIL bilinear so the longest side is 320 px. The two face
crops are squares of 1.2 x the float BlazeFace box width (shipped fp16 model), 112 x 112 px.
"""
from __future__ import annotations

import json

import numpy as np

import common as C
import facebox as F

MAX_SIDE = 320
FULL = ["astronaut", "grace_hopper", "camera", "chelsea", "coffee"]
CROPS = {"astronaut_face": "astronaut", "grace_hopper_face": "grace_hopper"}
CROP_SIZE = 112
CROP_SCALE = 1.2


def downscale(rgb):
    h, w = rgb.shape[:2]
    s = MAX_SIDE / max(h, w)
    if s >= 1:
        return rgb
    return C.resize(rgb, max(1, round(w * s)), max(1, round(h * s)))


def main():
    C.fetch_sources()
    C.SAMPLES.mkdir(exist_ok=True)
    boxes = F.face_boxes()
    info = {}
    for key in FULL:
        img = downscale(C.load_rgb(key))
        C.write_ppm(C.SAMPLES / f"{key}.ppm", img)
        info[key] = {"source": key, "size": [int(img.shape[1]), int(img.shape[0])]}
    for name, key in CROPS.items():
        f = boxes[key][0]
        side = f["w"] * CROP_SCALE
        img = C.square_crop(C.load_rgb(key), f["cx"], f["cy"], side, CROP_SIZE)
        C.write_ppm(C.SAMPLES / f"{name}.ppm", img)
        info[name] = {"source": key, "size": [CROP_SIZE, CROP_SIZE],
                      "crop_in_original": [round(f["cx"] - side / 2, 1), round(f["cy"] - side / 2, 1), round(side, 1)]}
    C.save_json(C.WORK_DIR / "samples.json", info)
    C.log("samples:", json.dumps(info))


if __name__ == "__main__":
    main()
