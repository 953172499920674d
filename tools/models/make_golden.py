"""Golden vectors for the runtime's bit-exact tests, from the sample PPMs.

Tests/Int8RuntimeTests/Golden/models/<model>-<image>/ holds
  model-ref.txt   one line: the repo-relative model path
  input0.bin      the int8 model input, raw bytes (NHWC, batch 1)
  output0.bin ... raw bytes of each model output, in SubGraph output order
computed with LiteRT 2.3.0's built-in kernels (BUILTIN_WITHOUT_DEFAULT_DELEGATES, 1 thread).

Inputs from the sample images (samples/*.ppm), int8 value = pixel - 128 for every model:
  blazeface:  letterbox the PPM to a black-padded centred square, PIL-bilinear to 128x128, RGB
  expression: PIL 'L' gray of the face PPM, PIL-bilinear to 64x64
  onet:       face PPM PIL-bilinear to 48x48 RGB (chelsea: the centred square of the cat PPM)
"""
from __future__ import annotations

import json
import shutil

import numpy as np
from PIL import Image

import common as C

GOLDEN = C.ROOT / "Tests" / "Int8RuntimeTests" / "Golden" / "models"


def read_ppm(path):
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.uint8)


def center_square(rgb):
    h, w = rgb.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return rgb[y:y + s, x:x + s]


CASES = [
    # (model, image tag, sample file, preprocessing)
    ("blazeface", "astronaut", "astronaut.ppm", lambda im: C.letterbox(im, 128)[0]),
    ("blazeface", "grace_hopper", "grace_hopper.ppm", lambda im: C.letterbox(im, 128)[0]),
    ("blazeface", "chelsea", "chelsea.ppm", lambda im: C.letterbox(im, 128)[0]),
    ("expression", "astronaut_face", "astronaut_face.ppm", lambda im: C.resize(C.to_gray(im), 64, 64)[..., None]),
    ("expression", "grace_hopper_face", "grace_hopper_face.ppm", lambda im: C.resize(C.to_gray(im), 64, 64)[..., None]),
    ("onet", "astronaut_face", "astronaut_face.ppm", lambda im: C.resize(im, 48, 48)),
    ("onet", "grace_hopper_face", "grace_hopper_face.ppm", lambda im: C.resize(im, 48, 48)),
    ("onet", "chelsea", "chelsea.ppm", lambda im: C.resize(center_square(im), 48, 48)),
]


def main():
    shutil.rmtree(GOLDEN, ignore_errors=True)
    GOLDEN.mkdir(parents=True)
    summary = {}
    for model, tag, sample, prep in CASES:
        mpath = C.MODELS / f"{model}.tflite"
        it = C.interpreter(mpath, builtin=True)
        ind = it.get_input_details()[0]
        x = C.pixels_to_int8(prep(read_ppm(C.SAMPLES / sample)))
        assert tuple(ind["shape"][1:]) == x.shape and ind["dtype"] == np.int8, (ind["shape"], x.shape)
        it.set_tensor(ind["index"], x[None])
        it.invoke()
        d = GOLDEN / f"{model}-{tag}"
        d.mkdir()
        (d / "model-ref.txt").write_text(f"models/{model}.tflite\n")
        (d / "input0.bin").write_bytes(x.tobytes())
        outs = {}
        for i, od in enumerate(it.get_output_details()):
            y = it.get_tensor(od["index"])
            assert y.dtype == np.int8
            (d / f"output{i}.bin").write_bytes(y.tobytes())
            outs[od["name"]] = y.reshape(-1)[:10].tolist() if y.size > 10 else y.reshape(-1).tolist()
        summary[d.name] = outs
    C.save_json(C.WORK_DIR / "golden_summary.json", summary)
    C.log("golden:", ", ".join(sorted(summary)))


if __name__ == "__main__":
    main()
