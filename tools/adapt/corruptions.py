"""Image corruptions for the shift benchmark, in the manner of Hendrycks & Dietterich (ImageNet-C /
CIFAR-10-C), written here in numpy/scipy/PIL (no `imagecorruptions`, no ImageMagick, no OpenCV).

Every corruption takes a uint8 HxWx3 image and returns float32 in [0, 1] (before the final
quantization and, for video, JPEG encoding), plus a record of the parameters it used.

Two parameter sets:
  * "crops": 48x48 face / non-face crops (CIFAR-10-C values; motion-blur support and sigma
    multiplied by 48/32 = 1.5 because CIFAR images are 32 px and ours are 48 px; defocus uses
    ImageNet-C's radii x 48/224; zoom factors and the pixelate ratio are relative and kept).
  * "video": 640x480 camera frames (ImageNet-C values). The spatial ones are given in "ImageNet
    pixels" and multiplied by the frame's `scale` = face side in pixels / 224, so the face is
    corrupted the way a 224-px ImageNet object is; zoom blur is centred on the face.

low_light is ours (no ImageNet-C counterpart): the HSV value is multiplied by a gain (hue and
saturation kept, which for HSV means every RGB channel is multiplied by the same gain), then a
little Gaussian read noise is added, as a dim room with an auto-gain-limited webcam gives.
"""
from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image
from scipy import ndimage, signal

FAMILIES = {
    "gaussian_noise": "noise", "shot_noise": "noise", "impulse_noise": "noise",
    "defocus_blur": "blur", "motion_blur": "blur", "zoom_blur": "blur",
    "contrast": "digital", "jpeg_compression": "digital", "pixelate": "digital",
    "brightness": "light", "low_light": "light",
}
# order of the manifest's per-corruption streams and of the continual streams (the CoTTA order of
# the corruptions we have: noise, blur, light/weather, digital)
ORDER = ["gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "motion_blur", "zoom_blur",
         "brightness", "low_light", "contrast", "pixelate", "jpeg_compression"]


def _arange(a, b, s):
    return [round(float(v), 4) for v in np.arange(a, b, s)]


# severity 1..5 -> parameters. Spatial parameters of "video" are in ImageNet pixels (x scale).
PARAMS = {
    "crops": {
        "gaussian_noise": [0.04, 0.06, 0.08, 0.09, 0.10],                  # sigma, [0,1] units
        "shot_noise": [500, 250, 100, 75, 50],                            # photons at white
        "impulse_noise": [0.01, 0.02, 0.03, 0.05, 0.07],                  # salt&pepper fraction
        # radius, alias sigma (px): ImageNet-C's x 48/224 (CIFAR-10-C's x 1.5 are not monotonic:
        # its severity 3 blurs more than 4 once the disk is anti-aliased)
        "defocus_blur": [(0.64, 0.02), (0.86, 0.11), (1.29, 0.11), (1.71, 0.11), (2.14, 0.11)],
        "motion_blur": [(15, 1.5), (15, 2.25), (15, 3.0), (15, 3.75), (18, 4.5)],          # support radius, sigma (px)
        "zoom_blur": [_arange(1, 1.06, 0.01), _arange(1, 1.11, 0.01), _arange(1, 1.16, 0.01),
                      _arange(1, 1.21, 0.01), _arange(1, 1.26, 0.01)],   # zoom factors
        "contrast": [0.75, 0.5, 0.4, 0.3, 0.15],                          # factor toward the mean
        "brightness": [0.05, 0.1, 0.15, 0.2, 0.3],                        # + HSV value
        "low_light": [(0.6, 0.008), (0.45, 0.01), (0.33, 0.012), (0.25, 0.015), (0.18, 0.02)],  # value gain, noise sigma
        "jpeg_compression": [80, 65, 58, 50, 40],                         # JPEG quality
        "pixelate": [0.95, 0.9, 0.85, 0.75, 0.65],                        # downscale ratio
    },
    "video": {
        "gaussian_noise": [0.08, 0.12, 0.18, 0.26, 0.38],
        "shot_noise": [60, 25, 12, 5, 3],
        "impulse_noise": [0.03, 0.06, 0.09, 0.17, 0.27],
        "defocus_blur": [(3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)],       # x scale
        "motion_blur": [(10, 3), (15, 5), (15, 8), (15, 12), (20, 15)],           # x scale
        "zoom_blur": [_arange(1, 1.11, 0.01), _arange(1, 1.16, 0.01), _arange(1, 1.21, 0.02),
                      _arange(1, 1.26, 0.02), _arange(1, 1.31, 0.03)],
        "contrast": [0.4, 0.3, 0.2, 0.1, 0.05],
        "brightness": [0.1, 0.2, 0.3, 0.4, 0.5],
        "low_light": [(0.6, 0.008), (0.45, 0.01), (0.33, 0.012), (0.25, 0.015), (0.18, 0.02)],
        "jpeg_compression": [25, 18, 15, 10, 7],
        "pixelate": [0.6, 0.5, 0.4, 0.3, 0.25],                            # ratio at 224 px: block = scale / ratio
    },
}
SPATIAL = {"defocus_blur", "motion_blur", "pixelate"}


def to_float(u8: np.ndarray) -> np.ndarray:
    return u8.astype(np.float32) * np.float32(1.0 / 255.0)


def to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def _convolve(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """2-D convolution of every channel of HxWx3 float32 with kernel k, reflected borders."""
    ph, pw = k.shape[0] // 2, k.shape[1] // 2
    xp = np.pad(x, ((ph, ph), (pw, pw), (0, 0)), mode="reflect")
    out = signal.fftconvolve(xp, k[:, :, None].astype(np.float32), mode="valid", axes=(0, 1))
    return out.astype(np.float32)


def disk_kernel(radius: float, alias_sigma: float) -> np.ndarray:
    """Anti-aliased disk (8x8 sub-samples per pixel give its area coverage), then softened by a
    Gaussian of alias_sigma, normalized to sum 1."""
    half = int(math.ceil(radius + 3 * alias_sigma)) + 1
    sub = (np.arange(8) + 0.5) / 8 - 0.5
    g = np.arange(-half, half + 1, dtype=np.float64)
    xs = (g[:, None] + sub[None, :]).ravel()
    inside = (xs[:, None] ** 2 + xs[None, :] ** 2) <= radius * radius
    if radius < 0.5:   # smaller than a pixel: the centre pixel alone
        inside = np.zeros_like(inside)
        c = half * 8 + 4
        inside[c, c] = True
    n = 2 * half + 1
    k = inside.reshape(n, 8, n, 8).mean(axis=(1, 3))
    if alias_sigma > 0:
        k = ndimage.gaussian_filter(k, alias_sigma, mode="constant", truncate=3.0)
    return (k / k.sum()).astype(np.float32)


def motion_kernel(support: float, sigma: float, angle_deg: float) -> np.ndarray:
    """One-sided motion streak: weights exp(-t^2 / 2 sigma^2) for t in [0, 2*support] pixels along
    the direction angle_deg (as ImageMagick's motion blur: its kernel has 2*radius+1 taps on one
    side), splatted bilinearly onto the pixel grid at quarter-pixel steps, normalized to sum 1.
    Taps beyond 4 sigma (relative weight < 4e-4) are dropped."""
    length = min(2.0 * support, 4.0 * sigma)
    t = np.arange(0.0, length + 1e-9, 0.25)
    w = np.exp(-t * t / (2.0 * sigma * sigma))
    a = math.radians(angle_deg)
    dx, dy = t * math.cos(a), -t * math.sin(a)
    half = int(math.ceil(length)) + 1
    k = np.zeros((2 * half + 1, 2 * half + 1), np.float64)
    x, y = dx + half, dy + half
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    for ox, oy, ww in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        np.add.at(k, (y0 + oy, x0 + ox), w * ww)
    return (k / k.sum()).astype(np.float32)


def rgb_scale_value(x: np.ndarray, new_v: np.ndarray) -> np.ndarray:
    """Set the HSV value (max of R, G, B) to new_v keeping hue and saturation: for fixed H and S
    all three channels are proportional to V. Black pixels (V = 0, no hue) become gray new_v."""
    v = x.max(axis=2, keepdims=True)
    safe = np.where(v > 0, v, 1.0)
    out = np.where(v > 0, x * (new_v / safe), new_v)
    return out.astype(np.float32)


def zoom_blur(u8: np.ndarray, zooms, centre) -> np.ndarray:
    """Average of the image zoomed about `centre` (x, y) by each factor (the first is 1, and the
    unzoomed image is added once more, as in ImageNet-C)."""
    h, w = u8.shape[:2]
    im = Image.fromarray(u8)
    cx, cy = centre
    acc = to_float(u8)
    for z in zooms:
        bw, bh = w / z, h / z
        # the zoomed window keeps the centre at the same pixel: scale about (cx, cy)
        x0 = cx - cx / z
        y0 = cy - cy / z
        acc += to_float(np.asarray(im.resize((w, h), Image.BILINEAR, box=(x0, y0, x0 + bw, y0 + bh))))
    return acc / np.float32(len(zooms) + 1)


def jpeg_roundtrip(u8: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(u8).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


def corrupt(name: str, u8: np.ndarray, severity: int, rng: np.random.Generator, domain: str,
            scale: float = 1.0, centre=None) -> tuple[np.ndarray, dict]:
    """Apply corruption `name` at severity 1..5 to the uint8 RGB image; returns (float32 image in
    [0,1], parameters actually used). domain: "crops" or "video"; scale: face px / 224 for video
    spatial parameters (ignored for crops); centre: (x, y) for zoom blur (default image centre).
    For video jpeg_compression the caller encodes the frame at the returned quality itself."""
    p = PARAMS[domain][name][severity - 1]
    s = scale if domain == "video" else 1.0
    h, w = u8.shape[:2]
    if name == "gaussian_noise":
        x = to_float(u8) + rng.standard_normal(u8.shape, dtype=np.float32) * np.float32(p)
        used = {"sigma": p}
    elif name == "shot_noise":
        x = (rng.poisson(u8.astype(np.float64) * (p / 255.0)) / p).astype(np.float32)
        used = {"photons": p}
    elif name == "impulse_noise":
        x = to_float(u8)
        hit = rng.random(u8.shape, dtype=np.float32) < p
        salt = rng.random(u8.shape, dtype=np.float32) < 0.5
        x[hit] = salt[hit].astype(np.float32)
        used = {"amount": p}
    elif name == "defocus_blur":
        r, a = p[0] * s, p[1] * s
        x = _convolve(to_float(u8), disk_kernel(r, a))
        used = {"radius_px": round(r, 3), "alias_sigma_px": round(a, 3)}
    elif name == "motion_blur":
        sup, sig = p[0] * s, p[1] * s
        ang = float(rng.uniform(-45, 45))
        x = _convolve(to_float(u8), motion_kernel(sup, sig, ang))
        used = {"support_px": round(sup, 3), "sigma_px": round(sig, 3), "angle_deg": round(ang, 2)}
    elif name == "zoom_blur":
        c = centre if centre is not None else (w / 2, h / 2)
        x = zoom_blur(u8, p, c)
        used = {"zooms": p[-1], "n": len(p)}
    elif name == "contrast":
        x = to_float(u8)
        m = x.mean(axis=(0, 1), keepdims=True)
        x = (x - m) * np.float32(p) + m
        used = {"factor": p}
    elif name == "brightness":
        x = to_float(u8)
        x = rgb_scale_value(x, np.clip(x.max(axis=2, keepdims=True) + np.float32(p), 0, 1))
        used = {"value_plus": p}
    elif name == "low_light":
        g, sig = p
        x = to_float(u8) * np.float32(g)          # == HSV value x gain, hue and saturation kept
        x += rng.standard_normal(u8.shape, dtype=np.float32) * np.float32(sig)
        used = {"value_gain": g, "noise_sigma": sig}
    elif name == "jpeg_compression":
        x = to_float(jpeg_roundtrip(u8, p)) if domain == "crops" else to_float(u8)
        used = {"quality": p}
    elif name == "pixelate":
        ratio = p if domain == "crops" else min(1.0, p / s)   # block = s / p pixels
        sw, sh = max(1, int(round(w * ratio))), max(1, int(round(h * ratio)))
        small = Image.fromarray(u8).resize((sw, sh), Image.BOX)
        x = to_float(np.asarray(small.resize((w, h), Image.BOX)))
        used = {"ratio": round(ratio, 4), "block_px": round(w / sw, 3)}
    else:
        raise KeyError(name)
    return np.clip(x, 0.0, 1.0), used
