"""models/onet.tflite: MTCNN ONet (facenet-pytorch 2.6.0 onet.pt) -> full-int8 TFLite.

The state dict is read from the legacy torch pickle without torch, the network is rebuilt in
Keras NHWC with natural (H, W) orientation: facenet-pytorch flattens conv4's output in
(W, H, C) order, so dense5's input rows are permuted to Keras' (H, W, C) order instead of
adding a TRANSPOSE op. The input normalization (p - 127.5) / 128 is folded into conv1
(VALID padding: exact) so the model takes v = p - 128.
"""
from __future__ import annotations

import json

import numpy as np

import common as C
import facebox as F

PT = "facenet_pytorch/data/onet.pt"
SIZE = 48
CROP_SCALE = 1.25  # square crop side = 1.25 x BlazeFace box width, centred on the box


def torch_weights():
    return C.load_legacy_torch(C.src("facenet-pytorch", PT))


def build(fold: bool):
    """Keras ONet. fold=False: input is (p-127.5)/128 (the original). fold=True: input is p-128."""
    import keras
    from keras import layers as L
    sd = torch_weights()

    def convw(name):
        w = sd[name + ".weight"].transpose(2, 3, 1, 0)       # (out,in,kh,kw) -> (kh,kw,in,out)
        return w.astype(np.float32), sd[name + ".bias"].astype(np.float32)

    x_in = keras.Input((SIZE, SIZE, 3), batch_size=1, name="input")
    x = x_in
    spec = [("conv1", 3, "prelu1", (3, 2, "same")), ("conv2", 3, "prelu2", (3, 2, "valid")),
            ("conv3", 3, "prelu3", (2, 2, "valid")), ("conv4", 2, "prelu4", None)]
    weights = {}
    for cname, k, pname, pool in spec:
        w, b = convw(cname)
        if fold and cname == "conv1":
            b = b + (0.5 / 128.0) * w.sum(axis=(0, 1, 2))
            w = w / 128.0
        conv = L.Conv2D(w.shape[-1], k, padding="valid", name=cname)
        x = conv(x)
        weights[cname] = [w, b]
        pr = L.PReLU(shared_axes=[1, 2], name=pname)
        x = pr(x)
        weights[pname] = [sd[pname + ".weight"].reshape(1, 1, -1).astype(np.float32)]
        if pool:
            x = L.MaxPooling2D(pool[0], pool[1], padding=pool[2], name=cname + "_pool")(x)
    x = L.Flatten(name="flatten")(x)                          # (H=3, W=3, C=128) order
    w5 = sd["dense5.weight"]                                  # (256, 1152), input index (w, h, c)
    w5 = w5.reshape(256, 3, 3, 128).transpose(2, 1, 3, 0).reshape(1152, 256)
    x = L.Dense(256, name="dense5")(x)
    weights["dense5"] = [w5.astype(np.float32), sd["dense5.bias"].astype(np.float32)]
    x = L.PReLU(name="prelu5")(x)
    weights["prelu5"] = [sd["prelu5.weight"].astype(np.float32)]
    prob = L.Dense(2, activation="softmax", name="dense6_1")(x)
    box = L.Dense(4, name="dense6_2")(x)
    lmk = L.Dense(10, name="dense6_3")(x)
    for n in ("dense6_1", "dense6_2", "dense6_3"):
        weights[n] = [sd[n + ".weight"].T.astype(np.float32), sd[n + ".bias"].astype(np.float32)]
    model = keras.Model(x_in, [prob, box, lmk])
    for n, ws in weights.items():
        model.get_layer(n).set_weights(ws)
    return model


def rgb(img):
    return np.repeat(img[..., None], 3, axis=-1) if img.ndim == 2 else img


def nonface_crops(key, rng, n, faces):
    img = C.load_rgb(key)
    h, w = img.shape[:2]
    out = []
    tries = 0
    while len(out) < n and tries < 1000:
        tries += 1
        side = float(rng.uniform(0.1, 0.5) * min(h, w))
        cx, cy = float(rng.uniform(side / 2, w - side / 2)), float(rng.uniform(side / 2, h - side / 2))
        if any(abs(cx - f["cx"]) < (side + f["w"]) / 2 and abs(cy - f["cy"]) < (side + f["h"]) / 2 for f in faces):
            continue
        out.append(C.square_crop(img, cx, cy, side, SIZE))
    return out


def dataset(image_keys, lfw_faces, lfw_nonfaces, per_face, per_image_bg, seed):
    """48x48 RGB uint8 crops and labels (1 face, 0 non-face)."""
    rng = np.random.default_rng(seed)
    lfw = C.lfw_subset()
    items, labels, names = [], [], []
    for i in list(lfw_faces) + list(lfw_nonfaces):
        items.append(rgb(C.resize(lfw[i], SIZE, SIZE)))
        labels.append(1 if i < 100 else 0)
        names.append(f"lfw{i}")
    boxes = F.face_boxes()
    for key in image_keys:
        img = C.load_rgb(key)
        for fi, f in enumerate(boxes[key]):
            for j in range(per_face):
                dx, dy, ds = (0.0, 0.0, 1.0) if j == 0 else (
                    rng.uniform(-0.06, 0.06), rng.uniform(-0.06, 0.06), rng.uniform(0.95, 1.15))
                side = f["w"] * CROP_SCALE * ds
                items.append(C.square_crop(img, f["cx"] + dx * side, f["cy"] + dy * side, side, SIZE))
                labels.append(1)
                names.append(f"{key}/{fi}/{j}")
        for j, c in enumerate(nonface_crops(key, rng, per_image_bg, boxes[key])):
            items.append(c)
            labels.append(0)
            names.append(f"{key}/bg{j}")
    return np.stack(items), np.asarray(labels), names


def main():
    C.set_seeds()
    C.fetch_sources()
    import tensorflow as tf
    tf.random.set_seed(1234)
    out = C.MODELS / "onet.tflite"
    ref = build(fold=False)
    folded = build(fold=True)
    calib, calib_y, _ = dataset(C.CALIB_IMAGES, C.LFW_CALIB_FACES, C.LFW_CALIB_NONFACES, 12, 8, seed=11)
    test, test_y, names = dataset(C.TEST_IMAGES, C.LFW_TEST_FACES, C.LFW_TEST_NONFACES, 10, 10, seed=12)
    stretch = calib[0].astype(np.float32)
    stretch = np.round((stretch - stretch.min()) / max(1.0, float(np.ptp(stretch))) * 255.0).astype(np.uint8)
    rep = [x.astype(np.float32) - 128.0 for x in list(calib) + [stretch]]
    C.log(f"onet: {len(rep)} calibration crops ({int(calib_y.sum())} faces), {len(test)} held-out "
          f"({int(test_y.sum())} faces)")

    @tf.function(input_signature=[tf.TensorSpec([1, SIZE, SIZE, 3], tf.float32)])
    def serve(v):
        return folded(v, training=False)

    C.convert_int8(serve.get_concrete_function(), folded, rep, out)
    # name outputs by their width (the converter picks the order)
    it = C.interpreter(out)
    by_width = {2: "face_prob", 4: "box_reg", 10: "landmarks"}
    C.rename_io(out, ["input_rgb_minus128"], [by_width[int(d["shape"][-1])] for d in it.get_output_details()],
                "facecam onet: MTCNN ONet from facenet-pytorch 2.6.0, full int8")

    # ---- float reference (original normalization) vs int8 built-in kernels
    f_prob, f_box, f_lmk = ref.predict((test.astype(np.float32) - 127.5) / 128.0, batch_size=64, verbose=0)
    g_prob = folded.predict(test.astype(np.float32) - 128.0, batch_size=64, verbose=0)[0]
    it = C.interpreter(out, builtin=True)
    det = it.get_output_details()
    qs = C.run_all(it, [C.pixels_to_int8(x) for x in test])
    deq = {d["name"]: C.dequant(q, d) for d, q in zip(det, qs)}
    itx = C.interpreter(out, builtin=False)
    qx = C.run_all(itx, [C.pixels_to_int8(x) for x in test])
    q_prob, q_box, q_lmk = deq["face_prob"], deq["box_reg"], deq["landmarks"]
    fpos, qpos = f_prob[:, 1] > 0.5, q_prob[:, 1] > 0.5
    faces = test_y == 1
    lfw_mask = np.array([n.startswith("lfw") for n in names])
    all_q = np.concatenate([q.reshape(len(test), -1) for q in qs], 1)
    all_x = np.concatenate([q.reshape(len(test), -1) for q in qx], 1)
    metrics = {
        "n_test": int(len(test)), "n_calib": len(rep), "n_test_faces": int(faces.sum()),
        "float_accuracy": float((fpos == faces).mean()),
        "float_accuracy_lfw": float((fpos == faces)[lfw_mask].mean()),
        "int8_accuracy": float((qpos == faces).mean()),
        "face_nonface_agreement": float((fpos == qpos).mean()),
        "face_prob_mae": float(np.abs(f_prob[:, 1] - q_prob[:, 1]).mean()),
        "box_reg_mae": float(np.abs(f_box - q_box)[faces].mean()),
        "box_mae_px48": float(np.abs(f_box - q_box)[faces].mean() * SIZE),
        "landmark_mae": float(np.abs(f_lmk - q_lmk)[faces].mean()),
        "landmark_mae_px48": float(np.abs(f_lmk - q_lmk)[faces].mean() * SIZE),
        "fold_max_abs_diff": float(np.abs(f_prob - g_prob).max()),
        "output_order": [d["name"] for d in det],
        "xnnpack_vs_builtin_identical_bytes": float((all_q == all_x).mean()),
        "xnnpack_vs_builtin_max_lsb": int(np.abs(all_q.astype(int) - all_x.astype(int)).max()),
    }
    # H<->W check: the same net on transposed crops should be clearly worse on lfw
    tp = ref.predict((test.transpose(0, 2, 1, 3).astype(np.float32) - 127.5) / 128.0, batch_size=64, verbose=0)[0]
    metrics["float_accuracy_lfw_if_transposed"] = float(((tp[:, 1] > 0.5) == faces)[lfw_mask].mean())
    metrics.update(C.check_int8(out))
    metrics["io"] = C.tensor_table(out)
    metrics["size_bytes"] = out.stat().st_size
    C.save_json(C.WORK_DIR / "onet_metrics.json", metrics)
    C.log("onet:", json.dumps({k: v for k, v in metrics.items() if k != "io"}))


if __name__ == "__main__":
    main()
