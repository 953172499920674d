"""samples/clip.mjpeg: a short MJPEG clip with real faces for `facecam run` on machines
without a camera.

Packages ship photographs, not videos, so the clip is filmed from two public-domain portraits
by a virtual camera: a slow pan and zoom (4:3 window, 640x480 output) with per-frame sensor
noise, encoded as concatenated JPEG frames exactly as a UVC webcam streams MJPEG. 40 frames,
10 fps. Deterministic (fixed seed; PIL's JPEG encoder at quality 80).
"""
import io

import numpy as np
from PIL import Image

import common as C

W, H, FRAMES_PER_SHOT, QUALITY = 640, 480, 20, 80
SHOTS = [  # image key, start window (cx, cy, width), end window, all in source pixels
    ("astronaut", (230, 180, 400), (235, 140, 300)),
    ("grace_hopper", (250, 220, 470), (265, 200, 360)),
]


def main():
    C.fetch_sources()
    rng = np.random.default_rng(20261123)
    out = io.BytesIO()
    sizes = []
    for key, (x0, y0, w0), (x1, y1, w1) in SHOTS:
        img = Image.fromarray(C.load_rgb(key))
        for i in range(FRAMES_PER_SHOT):
            t = i / (FRAMES_PER_SHOT - 1)
            cx, cy, w = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, w0 + (w1 - w0) * t
            h = w * H / W
            box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
            frame = np.asarray(img.resize((W, H), Image.BILINEAR, box=box), dtype=np.float32)
            frame += rng.normal(0, 3.0, frame.shape)          # sensor noise
            frame = np.clip(frame + 0.5, 0, 255).astype(np.uint8)
            buf = io.BytesIO()
            Image.fromarray(frame).save(buf, format="JPEG", quality=QUALITY)
            sizes.append(buf.tell())
            out.write(buf.getvalue())
    path = C.SAMPLES / "clip.mjpeg"
    path.write_bytes(out.getvalue())
    C.log(f"clip: {len(sizes)} frames {W}x{H}, {out.tell() / 1e6:.2f} MB -> {path}")


if __name__ == "__main__":
    main()
