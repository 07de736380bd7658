"""Independent NumPy ports of the two image paths the SVD pipeline uses, for make_fixtures.py.

pillow_resize_lanczos: Pillow's LANCZOS resize (src/libImaging/Resample.c,
    https://github.com/python-pillow/Pillow/blob/main/src/libImaging/Resample.c), bit for bit.
clip_pixel_values: diffusers' CLIP input, `_resize_with_antialiasing` then the CLIP normalisation
    (https://github.com/huggingface/diffusers/blob/main/src/diffusers/pipelines/stable_video_diffusion/pipeline_stable_video_diffusion.py).
"""
import json
import math
import struct

import numpy as np

F32 = np.float32


def _lanczos3(x):
    """Pillow's Lanczos kernel sinc(x)·sinc(x/3) on [−3, 3), in double."""
    def sinc(v):
        if v == 0.0:
            return 1.0
        v *= math.pi
        return math.sin(v) / v
    return sinc(x) * sinc(x / 3) if -3.0 <= x < 3.0 else 0.0


def _pillow_coefficients(n_in, n_out):
    """Per output index: (first input index, weights in 22-bit fixed point, rounded half away from zero)."""
    scale = n_in / n_out
    fscale = max(scale, 1.0)
    support = 3.0 * fscale
    rows = []
    for o in range(n_out):
        center = (o + 0.5) * scale
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), n_in)
        w = [_lanczos3((lo + k - center + 0.5) * (1.0 / fscale)) for k in range(hi - lo)]
        total = sum(w)
        if total != 0.0:
            w = [v / total for v in w]
        q = [int(v * (1 << 22) + 0.5) if v >= 0 else int(v * (1 << 22) - 0.5) for v in w]
        rows.append((lo, np.array(q, np.int64)))
    return rows


def _pillow_pass(img, n_out):
    """One 8-bit Lanczos pass along axis 0 of a uint8 array."""
    src = img.astype(np.int64)
    out = np.empty((n_out,) + img.shape[1:], np.uint8)
    for o, (lo, q) in enumerate(_pillow_coefficients(img.shape[0], n_out)):
        acc = (1 << 21) + np.tensordot(q, src[lo:lo + len(q)], axes=1)
        out[o] = np.clip(acc >> 22, 0, 255)  # arithmetic shift = floor
    return out


def pillow_resize_lanczos(img, width, height):
    """`PIL.Image.resize((width, height), LANCZOS)` of a uint8 (h, w, 3) image.

    Two separable passes with an 8-bit intermediate image; a pass whose size does not change is
    skipped. Pillow 13 passes vertically first when the height shrinks by more than twice as
    many pixels as the width (h − height > 2·(w − width)), otherwise horizontally first."""
    h, w = img.shape[:2]
    horizontal = lambda a: _pillow_pass(a.transpose(1, 0, 2), width).transpose(1, 0, 2)  # noqa: E731
    vertical = lambda a: _pillow_pass(a, height)  # noqa: E731
    passes = [(width != w, horizontal), (height != h, vertical)]
    if height < h and h - height > 2 * (w - width):
        passes.reverse()
    out = img.copy()
    for needed, run in passes:
        if needed:
            out = run(out)
    return out


def _gaussian_kernel(size, sigma):
    """Normalised float32 Gaussian taps at i − ⌊size/2⌋."""
    x = np.arange(size, dtype=F32) - F32(size // 2)
    g = np.exp(-(x * x) / (F32(2) * F32(sigma) * F32(sigma)))
    return g / g.sum()


def _blur_axis(u, kernel, axis):
    """Correlate along `axis` with reflect padding (mirror without repeating the edge)."""
    r = len(kernel) // 2
    pad = [(0, 0)] * u.ndim
    pad[axis] = (r, r)
    up = np.pad(u, pad, mode="reflect")
    n = u.shape[axis]
    return sum(kernel[i] * np.take(up, np.arange(i, i + n), axis=axis) for i in range(len(kernel)))


def _bicubic_matrix(n_in, n_out):
    """(n_out, n_in) float32 weights of torch's bicubic interpolation, align_corners=True, A = −0.75."""
    A = F32(-0.75)
    c1 = lambda t: ((A + F32(2)) * t - (A + F32(3))) * t * t + F32(1)  # noqa: E731  |t| ≤ 1
    c2 = lambda t: ((A * t - F32(5) * A) * t + F32(8) * A) * t - F32(4) * A  # noqa: E731  1 < |t| < 2
    scale = F32(n_in - 1) / F32(n_out - 1) if n_out > 1 else F32(0)
    m = np.zeros((n_out, n_in), F32)
    for o in range(n_out):
        s = scale * F32(o)
        i0 = min(int(math.floor(s)), n_in - 1)
        t = min(max(s - F32(i0), F32(0)), F32(1))
        taps = (c2(t + F32(1)), c1(t), c1(F32(1) - t), c2((F32(1) - t) + F32(1)))
        for k, wk in enumerate(taps):
            m[o, min(max(i0 - 1 + k, 0), n_in - 1)] += wk  # clamped positions add up
    return m


def resize_with_antialiasing(u, size=(224, 224)):
    """diffusers' `_resize_with_antialiasing`: Gaussian blur (x, then y) with reflect padding, then bicubic
    align_corners=True. u: float32 (B, 3, h, w) in [−1, 1]."""
    h, w = u.shape[-2:]
    sig_y = max((h / size[0] - 1.0) / 2.0, 0.001)
    sig_x = max((w / size[1] - 1.0) / 2.0, 0.001)
    k_y, k_x = int(max(2.0 * 2 * sig_y, 3)), int(max(2.0 * 2 * sig_x, 3))
    k_y += 1 - k_y % 2
    k_x += 1 - k_x % 2
    u = _blur_axis(u, _gaussian_kernel(k_x, sig_x), axis=3)
    u = _blur_axis(u, _gaussian_kernel(k_y, sig_y), axis=2)
    u = u @ _bicubic_matrix(w, size[1]).T  # along x first, then along y
    return _bicubic_matrix(h, size[0]) @ u


def clip_pixel_values(img, mean, std):
    """The CLIP input from the original uint8 (h, w, 3) image: [−1, 1], antialiased resize to 224², back to
    [0, 1], then (x − mean) / std per channel."""
    u = (img.astype(F32) / F32(255))[None].transpose(0, 3, 1, 2) * F32(2) - F32(1)
    x = (resize_with_antialiasing(u) + F32(1)) / F32(2)
    return (x - np.asarray(mean, F32).reshape(1, 3, 1, 1)) / np.asarray(std, F32).reshape(1, 3, 1, 1)


def write_safetensors(path, tensors):
    """Writes float32 arrays as a .safetensors file."""
    header, blobs, offset = {}, [], 0
    for name, a in tensors.items():
        raw = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-(8 + len(head)) % 8)  # pad so the data area starts 8-aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head + b"".join(blobs))
