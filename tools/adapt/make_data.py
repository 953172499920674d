"""Data of tools/adapt-bench, the shift benchmark for on-device test-time adaptation.

    make_data.py [--out DIR] [--force] [--check] [--jobs N]

Writes DIR (default tools/.cache/adapt-bench/v1) with manifest.json and two kinds of stream:

* crops (.crops, for the ONet verifier): scikit-image's lfw_subset (100 faces, 100 non-faces,
  25x25 gray) upscaled bilinear to 48x48, replicated to RGB; clean, every corruption x severity
  1..5, class-mix streams, a continual stream. File format (the Swift reader relies on it):
      b"FCCROPS 1 <width> <height> <channels> <count>\n"
      then count records: 1 byte label (1 face, 0 non-face, 255 unknown),
      width*height*channels bytes uint8 pixels, row-major, RGB interleaved.
* video (.mjpeg, concatenated baseline JPEG frames, 640x480, 10 fps, for the whole pipeline): a
  virtual camera pans/zooms slowly over six package portraits (six faces, 24 frames each) with
  sensor noise sigma 3; clean = JPEG quality 85; each corruption at severity 3 and 5 is applied to
  the same raw frames before JPEG (85; jpeg_compression uses its own quality); a continual video.

Deterministic: every sample's random numbers come from a seed made of the stream name and the
sample index, so the output does not depend on the number of jobs. The data is regenerated only
when the manifest is missing or its "generator" differs from GENERATOR below (which includes a
hash of this file and of corruptions.py). Logs go to stderr.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import multiprocessing as mp
import os
import shutil
import sys
import time
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "models"))
import common as C  # noqa: E402  (the project's package fetching and image helpers)
import corruptions as K  # noqa: E402

VERSION = "v1"


def _source_hash() -> str:
    h = hashlib.sha256()
    for f in (HERE / "make_data.py", HERE / "corruptions.py"):
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


GENERATOR = f"adapt-bench-data {VERSION}.0+{_source_hash()}"
DEFAULT_OUT = C.CACHE / "adapt-bench" / VERSION
SOURCES = ["scikit-image", "face_recognition", "facedetect"]

CROP = 48
W, H, FPS, FRAMES_PER_SHOT, QUALITY, SENSOR_SIGMA = 640, 480, 10, 24, 85, 3.0
VIDEO_SEVERITIES = (3, 5)
MIX_CORRUPTIONS = [("gaussian_noise", 5), ("contrast", 5), ("low_light", 5)]
MIXES = {"90-10": 0.9, "10-90": 0.1}      # fraction of non-faces
MIX_COUNT = 200
# image key -> approximate face box in the source image (centre x, centre y, side), placed by
# hand from the eyebrows to the chin (used to scale spatial corruptions and recorded per frame)
FACES = {
    "astronaut": (222, 140, 110),
    "grace_hopper": (255, 205, 180),
    "obama": (490, 260, 220),
    "obama2": (335, 450, 260),
    "obama3": (750, 460, 240),
    "biden": (545, 410, 210),
}
SHOTS = [  # image key, start window (cx, cy, width), end window, in source pixels (4:3 window)
    ("astronaut", (230, 180, 400), (235, 140, 300)),
    ("grace_hopper", (250, 220, 470), (265, 200, 360)),
    ("obama", (480, 330, 700), (495, 290, 520)),
    ("obama2", (315, 480, 600), (335, 455, 460)),
    ("obama3", (730, 560, 900), (750, 480, 640)),
    ("biden", (500, 520, 900), (540, 430, 600)),
]


def log(*a):
    print("[adapt-data]", *a, file=sys.stderr, flush=True)


def rng_for(stream: str, index: int) -> np.random.Generator:
    return np.random.default_rng([zlib.crc32(stream.encode()), index, 20261201])


# ---------------------------------------------------------------- sources

def lfw_crops() -> tuple[np.ndarray, np.ndarray]:
    """(200, 48, 48, 3) uint8 crops and (200,) labels (1 face for 0-99, 0 non-face for 100-199)."""
    small = C.lfw_subset()
    up = np.stack([C.resize(im, CROP, CROP) for im in small])
    return np.repeat(up[..., None], 3, axis=3), np.array([1] * 100 + [0] * 100, np.uint8)


def render_frames(seed: int = 20261201, calibration: bool = False) -> tuple[list[np.ndarray], list[dict]]:
    """Raw (pre-JPEG) 640x480 frames of the virtual camera, and per frame its shot, face box and
    the spatial scale (face side / 224). calibration=True films the same scenes along another
    path (reversed and 10% closer) with other sensor noise: the "same camera on a good
    day" footage that source statistics are measured on, never a frame of the test streams."""
    rng = np.random.default_rng(seed)
    frames, info = [], []
    for shot, (key, start, end) in enumerate(SHOTS):
        if calibration:
            (x1, y1, w1), (x0, y0, w0) = start, end
            w0, w1 = 0.9 * w0, 0.9 * w1   # a little closer (stays inside the photo)
        else:
            (x0, y0, w0), (x1, y1, w1) = start, end
        img = Image.fromarray(C.load_rgb(key))
        fx, fy, fs = FACES[key]
        for i in range(FRAMES_PER_SHOT):
            t = i / (FRAMES_PER_SHOT - 1)
            cx, cy, w = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, w0 + (w1 - w0) * t
            h = w * H / W
            box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
            f = np.asarray(img.resize((W, H), Image.BILINEAR, box=box), dtype=np.float32)
            f += rng.normal(0, SENSOR_SIGMA, f.shape).astype(np.float32)
            frames.append(np.clip(f + 0.5, 0, 255).astype(np.uint8))
            z = W / w
            side = fs * z
            fcx, fcy = (fx - box[0]) * z, (fy - box[1]) * z
            info.append({"index": len(info), "shot": shot, "image": key,
                         "face_box": [round(fcx - side / 2, 1), round(fcy - side / 2, 1),
                                      round(fcx + side / 2, 1), round(fcy + side / 2, 1)],
                         "face_px": round(side, 1), "scale": round(side / 224.0, 4)})
    return frames, info


def jpeg(u8: np.ndarray, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(u8).save(buf, format="JPEG", quality=int(quality))
    return buf.getvalue()


# ---------------------------------------------------------------- writers

def crops_header(count: int) -> bytes:
    return b"FCCROPS 1 %d %d %d %d\n" % (CROP, CROP, 3, count)


def write_crops(path: Path, images: np.ndarray, labels: np.ndarray):
    assert images.shape[1:] == (CROP, CROP, 3) and images.dtype == np.uint8 and len(images) == len(labels)
    rec = np.empty((len(images), 1 + CROP * CROP * 3), np.uint8)
    rec[:, 0] = labels
    rec[:, 1:] = images.reshape(len(images), -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(crops_header(len(images)))
        f.write(rec.tobytes())


def read_crops(path: Path) -> tuple[tuple[int, int, int, int], np.ndarray, np.ndarray]:
    data = path.read_bytes()
    nl = data.index(b"\n")
    parts = data[:nl].decode("ascii").split(" ")
    assert parts[0] == "FCCROPS" and parts[1] == "1", parts
    w, h, c, n = map(int, parts[2:])
    body = np.frombuffer(data, np.uint8, offset=nl + 1)
    assert body.size == n * (1 + w * h * c), (path, body.size, n)
    rec = body.reshape(n, 1 + w * h * c)
    return (w, h, c, n), rec[:, 0].copy(), rec[:, 1:].reshape(n, h, w, c)


def split_mjpeg(data: bytes) -> list[bytes]:
    """Split concatenated JPEGs: walk the marker segments by their lengths up to SOS, then the
    entropy-coded data (where 0xFF is always followed by 0x00 or a restart marker) up to EOI."""
    out, i, n = [], 0, len(data)
    while i < n:
        assert data[i:i + 2] == b"\xff\xd8", f"no SOI at {i}"
        j = i + 2
        while True:
            assert data[j] == 0xFF, f"bad marker at {j}"
            m = data[j + 1]
            seglen = (data[j + 2] << 8) | data[j + 3]
            j += 2 + seglen
            if m == 0xDA:
                break
        while True:
            j = data.index(b"\xff", j)
            m = data[j + 1]
            if m == 0xD9:
                j += 2
                break
            j += 2 if (m == 0x00 or 0xD0 <= m <= 0xD7) else 1
        out.append(data[i:j])
        i = j
    return out


# ---------------------------------------------------------------- jobs (run in worker processes)

G: dict = {}   # filled before the pool forks: crops, labels, order, frames, info, out


def job_crops(task):
    name, corruption, severity, indices, rel = task
    imgs, labels = G["crops"][indices], G["labels"][indices]
    if corruption != "clean":
        out = np.empty_like(imgs)
        for k, im in enumerate(imgs):
            x, _ = K.corrupt(corruption, im, severity, rng_for(name, k), "crops")
            out[k] = K.to_u8(x)
        imgs = out
    write_crops(G["out"] / rel, imgs, labels)
    return name


def job_video(task):
    name, corruption, severity, rel = task
    parts, used = [], []
    for k, (raw, fi) in enumerate(zip(G["frames"], G["info"])):
        if corruption == "clean":
            parts.append(jpeg(raw, QUALITY))
            continue
        bx = fi["face_box"]
        centre = ((bx[0] + bx[2]) / 2, (bx[1] + bx[3]) / 2)
        x, u = K.corrupt(corruption, raw, severity, rng_for(name, k), "video", fi["scale"], centre)
        q = u["quality"] if corruption == "jpeg_compression" else QUALITY
        parts.append(jpeg(K.to_u8(x), q))
        used.append(u)
    path = G["out"] / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(parts))
    return name, _param_range(used)


def _param_range(used: list[dict]) -> dict:
    """Per parameter: the value, or [min, max] over the frames when it varies (spatial scaling)."""
    if not used:
        return {}
    r = {}
    for key in used[0]:
        vals = [u[key] for u in used]
        if key == "angle_deg":
            r[key] = "uniform(-45, 45) per frame"
        elif min(vals) == max(vals):
            r[key] = vals[0]
        else:
            r[key] = [min(vals), max(vals)]
    return r


# ---------------------------------------------------------------- generation

def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stream(name, model, kind, path, clean, corruption, severity, mix, n, **extra):
    s = {"name": name, "model": model, "kind": kind, "path": path, "clean": clean,
         "corruption": corruption,
         "family": K.FAMILIES.get(corruption, corruption),
         "severity": severity, "mix": mix}
    if kind == "video":
        s["fps"] = FPS
        s["frames"] = n
    else:
        s["count"] = n
    s.update(extra)
    return s


def generate(out: Path, jobs: int):
    t0 = time.time()
    C.fetch_sources(SOURCES)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    crops, labels = lfw_crops()
    order = np.random.default_rng(7).permutation(len(crops))           # balanced, shuffled
    frames, info = render_frames()
    G.update(crops=crops, labels=labels, frames=frames, info=info, out=tmp)
    log(f"sources ready ({len(crops)} crops, {len(frames)} raw frames) in {time.time() - t0:.1f} s")

    streams, crop_tasks, video_tasks = [], [], []
    # -- crops
    P = "onet-lfw"
    clean_rel = f"{P}/clean.crops"
    crop_tasks.append((f"{P}/clean", "clean", 0, order, clean_rel))
    streams.append(stream(f"{P}/clean", "verifier", "crops", clean_rel, clean_rel, "clean", 0, "balanced", len(order)))
    for c in K.ORDER:
        for sev in range(1, 6):
            rel = f"{P}/{c}-{sev}.crops"
            crop_tasks.append((f"{P}/{c}/{sev}", c, sev, order, rel))
            streams.append(stream(f"{P}/{c}/{sev}", "verifier", "crops", rel, clean_rel, c, sev, "balanced", len(order)))
    faces, nonfaces = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    for mix, frac_non in MIXES.items():
        r = np.random.default_rng([11, int(frac_non * 100)])
        n_non = int(round(MIX_COUNT * frac_non))
        idx = np.concatenate([r.choice(nonfaces, n_non, replace=True), r.choice(faces, MIX_COUNT - n_non, replace=True)])
        idx = idx[r.permutation(len(idx))]
        mclean = f"{P}/mix-{mix}/clean.crops"
        crop_tasks.append((f"{P}/mix-{mix}/clean", "clean", 0, idx, mclean))
        streams.append(stream(f"{P}/mix-{mix}/clean", "verifier", "crops", mclean, mclean, "clean", 0, mix, len(idx)))
        for c, sev in MIX_CORRUPTIONS:
            rel = f"{P}/mix-{mix}/{c}-{sev}.crops"
            crop_tasks.append((f"{P}/mix-{mix}/{c}/{sev}", c, sev, idx, rel))
            streams.append(stream(f"{P}/mix-{mix}/{c}/{sev}", "verifier", "crops", rel, mclean, c, sev, mix, len(idx)))
    # -- video
    vclean = "video/clean.mjpeg"
    video_tasks.append(("video/clean", "clean", 0, vclean))
    streams.append(stream("video/clean", "pipeline", "video", vclean, vclean, "clean", 0, "balanced", len(frames)))
    for c in K.ORDER:
        for sev in VIDEO_SEVERITIES:
            rel = f"video/{c}-{sev}.mjpeg"
            video_tasks.append((f"video/{c}/{sev}", c, sev, rel))
            streams.append(stream(f"video/{c}/{sev}", "pipeline", "video", rel, vclean, c, sev, "balanced", len(frames)))

    video_params = {}
    with mp.get_context("fork").Pool(jobs) as pool:
        # the long video jobs first so the two workers finish together
        for name, used in pool.imap_unordered(job_video, video_tasks):
            video_params[name] = used
            log(f"  {name}")
        for name in pool.imap_unordered(job_crops, crop_tasks, chunksize=4):
            pass
    log(f"{len(crop_tasks)} crop streams, {len(video_tasks)} videos in {time.time() - t0:.1f} s")

    # -- continual streams: the severity-5 streams one after another (the same samples/frames as
    # the single-corruption streams), and their clean counterpart (clean repeated)
    segs_c, segs_v, body_c, body_v = [], [], [], []
    for c in K.ORDER:
        (w, h, ch, n), lab, px = read_crops(tmp / f"{P}/{c}-5.crops")
        segs_c.append({"corruption": c, "family": K.FAMILIES[c], "severity": 5, "start": len(segs_c) * n, "count": n})
        body_c.append((lab, px))
        segs_v.append({"corruption": c, "family": K.FAMILIES[c], "severity": 5, "start": len(segs_v) * len(frames),
                       "frames": len(frames)})
        body_v.append((tmp / f"video/{c}-5.mjpeg").read_bytes())
    write_crops(tmp / f"{P}/continual-5.crops", np.concatenate([b[1] for b in body_c]),
                np.concatenate([b[0] for b in body_c]))
    write_crops(tmp / f"{P}/continual-5.clean.crops", np.concatenate([crops[order]] * len(K.ORDER)),
                np.concatenate([labels[order]] * len(K.ORDER)))
    (tmp / "video/continual-5.mjpeg").write_bytes(b"".join(body_v))
    (tmp / "video/continual-5.clean.mjpeg").write_bytes((tmp / vclean).read_bytes() * len(K.ORDER))
    # -- calibration data for the source statistics (never part of a scored stream): the lfw
    # calibration split of make-models, and clean footage of the same scenes along another path
    calib = list(C.LFW_CALIB_FACES) + list(C.LFW_CALIB_NONFACES)
    write_crops(tmp / "calibration/onet-lfw.crops", crops[calib], labels[calib])
    cframes, _ = render_frames(seed=20261202, calibration=True)
    (tmp / "calibration").mkdir(exist_ok=True)
    (tmp / "calibration/video.mjpeg").write_bytes(b"".join(jpeg(f, QUALITY) for f in cframes))
    n_cont = len(order) * len(K.ORDER)
    streams.append(stream(f"{P}/continual/5", "verifier", "crops", f"{P}/continual-5.crops", f"{P}/continual-5.clean.crops",
                          "continual", 5, "balanced", n_cont, segments=segs_c))
    streams.append(stream("video/continual/5", "pipeline", "video", "video/continual-5.mjpeg",
                          "video/continual-5.clean.mjpeg", "continual", 5, "balanced", len(frames) * len(K.ORDER),
                          segments=segs_v))
    (tmp / "video/frames.json").write_text(json.dumps({"width": W, "height": H, "fps": FPS, "frames": info}, indent=0) + "\n")
    for s in streams:
        p = tmp / s["path"]
        s["bytes"] = p.stat().st_size
        s["sha256"] = sha256(p)
        if s["kind"] == "video":
            s["frames_info"] = "video/frames.json"
            s["width"], s["height"] = W, H
        else:
            s["width"], s["height"], s["channels"] = CROP, CROP, 3
        if s["name"] in video_params:
            s["params"] = video_params[s["name"]]
        elif s["corruption"] in K.PARAMS["crops"]:
            s["params"] = K.PARAMS["crops"][s["corruption"]][s["severity"] - 1]
    manifest = {
        "version": VERSION,
        "generator": GENERATOR,
        "crop_format": "ASCII line 'FCCROPS 1 <width> <height> <channels> <count>\\n', then count records of "
                       "1 label byte (1 face, 0 non-face, 255 unknown) + width*height*channels uint8 (row-major, RGB)",
        "video_format": "concatenated baseline JPEG frames (MJPEG as a UVC webcam sends it), 640x480, RGB",
        "labels": {"crops": "lfw_subset: 1 = face (images 0-99), 0 = non-face (100-199)",
                   "video": "none: every frame shows one face (approximate box in video/frames.json); "
                            "the truth for corrupted frames is the prediction on the clean counterpart"},
        "corruptions": {c: {"family": K.FAMILIES[c], "crops": K.PARAMS["crops"][c], "video": K.PARAMS["video"][c],
                            "video_spatial_scale": "face_px / 224" if c in K.SPATIAL else None}
                        for c in K.ORDER},
        "continual_order": K.ORDER,
        "calibration": {"verifier_crops": "calibration/onet-lfw.crops", "video": "calibration/video.mjpeg",
                        "note": "lfw_subset 0-59 and 100-159 (make-models' calibration split; the crop streams "
                                "hold all 200 images); the video films the same scenes along another path"},
        "streams": streams,
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    total = sum(s["bytes"] for s in streams) + (out / f"{P}/continual-5.clean.crops").stat().st_size \
        + (out / "video/continual-5.clean.mjpeg").stat().st_size
    log(f"wrote {len(streams)} streams ({total / 1e6:.0f} MB) to {out} in {time.time() - t0:.1f} s")


def up_to_date(out: Path) -> bool:
    m = out / "manifest.json"
    if not m.exists():
        return False
    try:
        man = json.loads(m.read_text())
    except ValueError:
        return False
    return man.get("generator") == GENERATOR and all((out / s["path"]).exists() for s in man["streams"])


# ---------------------------------------------------------------- check

def check(out: Path) -> bool:
    import check_data
    return check_data.run(out, sys.modules[__name__])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--force", action="store_true", help="regenerate even if up to date")
    ap.add_argument("--check", action="store_true", help="self-check the data (and write preview/)")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    a = ap.parse_args()
    t0 = time.time()
    if a.force or not up_to_date(a.out):
        log(f"generating {a.out} ({GENERATOR}, {a.jobs} jobs)")
        generate(a.out, a.jobs)
        log(f"generator wall time {time.time() - t0:.1f} s")
    else:
        log(f"data up to date: {a.out / 'manifest.json'} ({GENERATOR})")
    if a.check:
        ok = check(a.out)
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
