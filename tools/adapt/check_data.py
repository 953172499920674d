"""Self-check of the adapt-bench data (make_data.py --check): formats, counts, labels, clean vs
corrupted differences growing with severity, every video decoding frame by frame with PIL, and
contact sheets under preview/. Prints a report to stderr; returns True when all checks pass."""
from __future__ import annotations

import hashlib
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

import corruptions as K

PREVIEW_FRAMES = (36, 84)   # one frame of the grace_hopper shot, one of obama2


def log(*a):
    print("[adapt-check]", *a, file=sys.stderr, flush=True)


def decode_all(M, path: Path) -> list[np.ndarray]:
    frames = []
    for b in M.split_mjpeg(path.read_bytes()):
        im = Image.open(io.BytesIO(b))
        im.load()
        assert im.format == "JPEG" and im.size == (M.W, M.H) and im.mode == "RGB", (path, im.format, im.size, im.mode)
        frames.append(np.asarray(im))
    return frames


def mad(a, b) -> float:
    return float(np.mean(np.abs(a.astype(np.int16) - b.astype(np.int16))))


def label(im: Image.Image, text: str) -> Image.Image:
    d = ImageDraw.Draw(im)
    d.rectangle([0, 0, 7 * len(text) + 6, 14], fill=(0, 0, 0))
    d.text((3, 2), text, fill=(255, 255, 0))
    return im


def sheet(tiles: list[Image.Image], cols: int) -> Image.Image:
    w, h = tiles[0].size
    rows = (len(tiles) + cols - 1) // cols
    out = Image.new("RGB", (cols * w, rows * h), (40, 40, 40))
    for i, t in enumerate(tiles):
        out.paste(t, ((i % cols) * w, (i // cols) * h))
    return out


def run(out: Path, M) -> bool:
    t0 = time.time()
    man = json.loads((out / "manifest.json").read_text())
    ok = True

    def fail(msg):
        nonlocal ok
        ok = False
        log("FAIL", msg)

    if man["version"] != M.VERSION or man["generator"] != M.GENERATOR:
        fail(f"manifest version/generator {man['version']} {man['generator']} != {M.VERSION} {M.GENERATOR}")
    streams = {s["name"]: s for s in man["streams"]}
    need = {"name", "model", "kind", "path", "clean", "corruption", "family", "severity", "mix"}
    for s in man["streams"]:
        miss = need - set(s) | ({"fps", "frames"} - set(s) if s["kind"] == "video" else {"count"} - set(s))
        if miss:
            fail(f"{s['name']}: missing fields {sorted(miss)}")
        p = out / s["path"]
        if p.stat().st_size != s["bytes"] or hashlib.sha256(p.read_bytes()).hexdigest() != s["sha256"]:
            fail(f"{s['name']}: size or sha256 differs from the manifest")

    # ---- crops
    cache, crop_mad = {}, {}

    def crops(rel):
        if rel not in cache:
            cache[rel] = M.read_crops(out / rel)
        return cache[rel]

    for s in man["streams"]:
        if s["kind"] != "crops":
            continue
        (w, h, c, n), lab, px = crops(s["path"])
        if (w, h, c) != (s["width"], s["height"], s["channels"]) or n != s["count"]:
            fail(f"{s['name']}: header {w}x{h}x{c} n={n} vs manifest")
        (_, _, _, nc), clab, cpx = crops(s["clean"])
        if nc != n or not np.array_equal(lab, clab):
            fail(f"{s['name']}: labels/count differ from its clean counterpart {s['clean']}")
        if not set(np.unique(lab)) <= {0, 1}:
            fail(f"{s['name']}: labels {np.unique(lab)}")
        frac_non = float(np.mean(lab == 0))
        want = {"balanced": 0.5, "90-10": 0.9, "10-90": 0.1}[s["mix"]]
        if abs(frac_non - want) > 1e-9:
            fail(f"{s['name']}: non-face fraction {frac_non:.3f}, want {want}")
        if s["corruption"] not in ("clean", "continual"):
            crop_mad.setdefault((s["mix"], s["corruption"]), {})[s["severity"]] = mad(px, cpx)
        if s["corruption"] == "clean" and s["path"] != s["clean"]:
            fail(f"{s['name']}: clean stream must be its own clean counterpart")
    # clean crops: the upscaled lfw images themselves; continual: the sev-5 streams in order
    crops0, labels0 = M.lfw_crops()
    _, lab, px = crops(streams["onet-lfw/clean"]["path"])
    if int(lab.sum()) != 100 or len(lab) != 200:
        fail("onet-lfw/clean: not 100 faces + 100 non-faces")
    for k in range(len(px)):
        hits = np.flatnonzero((crops0 == px[k]).all(axis=(1, 2, 3)))
        if len(hits) == 0 or labels0[hits[0]] != lab[k]:
            fail(f"onet-lfw/clean sample {k} is not an lfw crop with its label")
            break
    cont = streams["onet-lfw/continual/5"]
    _, clab, cpx = crops(cont["path"])
    for seg in cont["segments"]:
        _, l5, p5 = crops(streams[f"onet-lfw/{seg['corruption']}/5"]["path"])
        a, b = seg["start"], seg["start"] + seg["count"]
        if not (np.array_equal(cpx[a:b], p5) and np.array_equal(clab[a:b], l5)):
            fail(f"continual segment {seg['corruption']} differs from onet-lfw/{seg['corruption']}/5")
    log(f"crops: {sum(s['kind'] == 'crops' for s in man['streams'])} streams checked ({time.time() - t0:.1f} s)")

    # ---- video
    vclean = decode_all(M, out / streams["video/clean"]["path"])
    vid_mad, vid_frames, vid_count = {}, {}, 0
    for s in man["streams"]:
        if s["kind"] != "video":
            continue
        fr = decode_all(M, out / s["path"]) if s["name"] != "video/clean" else vclean
        vid_frames[s["name"]] = {k: fr[k] for k in PREVIEW_FRAMES if k < len(fr)}
        vid_count += len(fr)
        if len(fr) != s["frames"]:
            fail(f"{s['name']}: {len(fr)} frames decoded, manifest says {s['frames']}")
        if s["corruption"] == "continual":
            cl = M.split_mjpeg((out / s["clean"]).read_bytes())
            if len(cl) != len(fr):
                fail(f"{s['name']}: clean counterpart has {len(cl)} frames")
            data = (out / s["path"]).read_bytes()
            parts = b"".join((out / streams[f"video/{g['corruption']}/5"]["path"]).read_bytes() for g in s["segments"])
            if data != parts:
                fail(f"{s['name']}: not the concatenation of the severity-5 videos")
        elif s["corruption"] != "clean":
            if len(fr) == len(vclean):
                vid_mad.setdefault(s["corruption"], {})[s["severity"]] = float(np.mean([mad(a, b) for a, b in zip(fr, vclean)]))
    log(f"video: {len(vid_frames)} streams decoded frame by frame, "
        f"{vid_count} frames ({time.time() - t0:.1f} s)")

    # ---- differences grow with severity
    log("mean |corrupted - clean| (0..255) per severity")
    log(f"  {'corruption':18s} {'crops sev 1..5':>40s}   {'video sev 3, 5':>14s}")
    for c in K.ORDER:
        cm = crop_mad[("balanced", c)]
        row = " ".join(f"{cm[v]:6.2f}" for v in range(1, 6))
        vm = vid_mad.get(c, {})
        vrow = " ".join(f"{vm[v]:6.2f}" for v in sorted(vm))
        log(f"  {c:18s} {row:>40s}   {vrow:>14s}")
        seq = [cm[v] for v in range(1, 6)]
        if not all(b > a for a, b in zip(seq, seq[1:])) or seq[0] <= 0:
            fail(f"crops {c}: difference does not grow with severity {seq}")
        if len(vm) == 2 and not (0 < vm[3] < vm[5]):
            fail(f"video {c}: difference does not grow with severity {vm}")
    for (mix, c), cm in sorted(crop_mad.items()):
        if mix != "balanced":
            log(f"  mix {mix} {c}/5: {cm[5]:.2f}")

    # ---- previews
    pv = out / "preview"
    pv.mkdir(exist_ok=True)
    info = json.loads((out / "video/frames.json").read_text())["frames"]
    for k in PREVIEW_FRAMES:
        names = ["video/clean"] + [f"video/{c}/5" for c in K.ORDER]
        tiles, faces = [], []
        x0, y0, x1, y1 = info[k]["face_box"]
        m = 0.25 * (x1 - x0)
        for n in names:
            im = Image.fromarray(vid_frames[n][k])
            tiles.append(label(im.resize((320, 240), Image.BILINEAR), n.split("/")[1]))
            face = M.C.square_crop(vid_frames[n][k], (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0 + 2 * m, 160)
            faces.append(label(Image.fromarray(face), n.split("/")[1][:16]))
        sheet(tiles, 4).save(pv / f"video-sev5-frame{k:03d}.png")
        sheet(faces, 6).save(pv / f"video-sev5-frame{k:03d}-face.png")
    _, _, cl = crops(streams["onet-lfw/clean"]["path"])
    _, clab, _ = crops(streams["onet-lfw/clean"]["path"])
    for which, kk in (("face", int(np.flatnonzero(clab == 1)[0])), ("nonface", int(np.flatnonzero(clab == 0)[0]))):
        tiles = []
        for c in K.ORDER:
            tiles.append(label(Image.fromarray(cl[kk]).resize((96, 96), Image.NEAREST), c[:12]))
            for v in range(1, 6):
                _, _, p = crops(streams[f"onet-lfw/{c}/{v}"]["path"])
                tiles.append(label(Image.fromarray(p[kk]).resize((96, 96), Image.NEAREST), str(v)))
        sheet(tiles, 6).save(pv / f"crops-{which}.png")
    log(f"previews in {pv}")
    log(("all checks passed" if ok else "CHECKS FAILED") + f" ({time.time() - t0:.1f} s)")
    return ok
