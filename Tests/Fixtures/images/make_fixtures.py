#!/usr/bin/env python3
"""Regenerates the image fixtures in this folder (needs numpy and Pillow 13; the tests do not).

    python3 make_fixtures.py            # from Tests/Fixtures/images

png/NAME.png   hand-encoded PNGs (all colour types, bit depths, filters, Adam7, tRNS, gAMA/sRGB)
png/NAME.rgb   Image.open(NAME.png).convert("RGB").tobytes(): what diffusers receives
lanczos/*.rgb  Image.resize((W, H), LANCZOS) of the synthetic pattern below (pattern() in Swift too)
clip/*.safetensors  clip_pixel_values of a 1000x800 pattern (preprocessing_reference.py, a NumPy port of diffusers)
jpeg/webp      made with the ffmpeg CLI, see README.md
"""
import json
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

import preprocessing_reference as reference

HERE = Path(__file__).resolve().parent


# ---------------------------------------------------------------------------------------------
# A minimal PNG encoder, so that every colour type / bit depth / interlace is under our control.
# ---------------------------------------------------------------------------------------------

def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_rows(rows, bpp):
    """Filter each packed scanline with type (row index mod 5), so all five filters are exercised."""
    out = bytearray()
    prev = bytes(len(rows[0])) if rows else b""
    for i, row in enumerate(rows):
        ftype = i % 5
        f = bytearray(len(row))
        for x in range(len(row)):
            a = row[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][ftype]
            f[x] = (row[x] - pred) & 0xFF
        out += bytes([ftype]) + f
        prev = row
    return bytes(out)


def pack_rows(samples, depth):
    """samples: (h, w, c) integer array → list of packed big-endian scanlines."""
    h, w, c = samples.shape
    rows = []
    for y in range(h):
        flat = samples[y].reshape(-1)
        if depth == 16:
            rows.append(flat.astype(">u2").tobytes())
        elif depth == 8:
            rows.append(flat.astype(np.uint8).tobytes())
        else:
            per = 8 // depth
            b = bytearray((len(flat) * depth + 7) // 8)
            for i, v in enumerate(flat):
                b[i // per] |= int(v) << (8 - depth * (i % per + 1))
            rows.append(bytes(b))
    return rows


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def encode_png(samples, depth, ctype, interlace=False, extra=(), idat_split=3):
    h, w, c = samples.shape
    bpp = max(1, c * depth // 8)
    if interlace:
        raw = b""
        for x0, y0, dx, dy in ADAM7:
            sub = samples[y0::dy, x0::dx]
            if sub.shape[0] and sub.shape[1]:
                raw += filter_rows(pack_rows(sub, depth), bpp)
    else:
        raw = filter_rows(pack_rows(samples, depth), bpp)
    z = zlib.compress(raw, 9)
    parts = [z[i * len(z) // idat_split:(i + 1) * len(z) // idat_split] for i in range(idat_split)]
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, int(interlace)))
    for kind, data in extra:
        out += chunk(kind, data)
    for p in parts:
        out += chunk(b"IDAT", p)
    return out + chunk(b"IEND", b"")


# ---------------------------------------------------------------------------------------------
# PNG decode fixtures
# ---------------------------------------------------------------------------------------------

def png_cases(rng):
    W, H = 13, 9                     # odd sizes: partial bytes at low bit depths, every Adam7 pass
    def s(c, hi):
        return rng.integers(0, hi + 1, size=(H, W, c))
    def g16():                       # half the samples below 256: Pillow's I;16 → RGB clips at 255
        a = s(1, 65535)
        a[:, ::2] = rng.integers(0, 300, size=a[:, ::2].shape)
        return a
    pal = bytes(rng.integers(0, 256, size=16 * 3, dtype=np.uint8))
    gama = (b"gAMA", struct.pack(">I", 100000))        # gamma 1.0: a gamma-converting reader would change values
    srgb = (b"sRGB", b"\x00")
    cases = {
        "gray1": (s(1, 1), 1, 0, False, ()),
        "gray2": (s(1, 3), 2, 0, False, ()),
        "gray4": (s(1, 15), 4, 0, False, ()),
        "gray8": (s(1, 255), 8, 0, False, (gama,)),
        "gray8-trns": (s(1, 255), 8, 0, False, ((b"tRNS", struct.pack(">H", 7)),)),
        "gray16": (g16(), 16, 0, False, ()),
        "grayalpha8": (s(2, 255), 8, 4, False, ()),
        "grayalpha16": (s(2, 65535), 16, 4, False, ()),
        "rgb8": (s(3, 255), 8, 2, False, (srgb, gama)),
        "rgb8-trns": (s(3, 255), 8, 2, False, ((b"tRNS", struct.pack(">HHH", 1, 2, 3)),)),
        "rgb16": (s(3, 65535), 16, 2, False, (srgb,)),
        "rgba8": (s(4, 255), 8, 6, False, ()),
        "rgba16": (s(4, 65535), 16, 6, False, (gama,)),
        "palette1": (s(1, 1), 1, 3, False, ((b"PLTE", pal[:6]),)),
        "palette2": (s(1, 3), 2, 3, False, ((b"PLTE", pal[:12]),)),
        "palette4": (s(1, 15), 4, 3, False, ((b"PLTE", pal[:48]),)),
        "palette8": (s(1, 15), 8, 3, False, ((b"PLTE", pal[:48]),)),
        "palette8-trns": (s(1, 15), 8, 3, False, ((b"PLTE", pal[:48]), (b"tRNS", bytes(range(0, 160, 20))))),
        "palette8-short": (s(1, 15), 8, 3, False, ((b"PLTE", pal[:12]),)),   # indices ≥ 4 → black in Pillow
        "rgb8-interlaced": (s(3, 255), 8, 2, True, ()),
        "rgba16-interlaced": (s(4, 65535), 16, 6, True, ()),
        "gray16-interlaced": (g16(), 16, 0, True, ()),
        "palette4-interlaced": (s(1, 15), 4, 3, True, ((b"PLTE", pal[:48]),)),
        "gray1-interlaced": (s(1, 1), 1, 0, True, ()),
        "gray16-trns": (g16(), 16, 0, False, ((b"tRNS", struct.pack(">H", 7)),)),
    }
    return cases


def make_pngs(rng):
    d = HERE / "png"
    d.mkdir(exist_ok=True)
    for name, (samples, depth, ctype, interlace, extra) in png_cases(rng).items():
        data = encode_png(samples, depth, ctype, interlace, extra)
        (d / f"{name}.png").write_bytes(data)
        with Image.open(d / f"{name}.png") as im:
            mode = im.mode
            rgb = im.convert("RGB")
        assert rgb.size == (13, 9)
        (d / f"{name}.rgb").write_bytes(rgb.tobytes())
        print(f"{name:22s} Pillow mode {mode:5s} {len(data)} bytes")


# ---------------------------------------------------------------------------------------------
# Synthetic pattern shared with the Swift tests (TestPattern.image): smooth ramps plus hashed noise.
# ---------------------------------------------------------------------------------------------

def pattern(width, height, seed):
    y, x = np.mgrid[0:height, 0:width].astype(np.uint32)
    out = np.empty((height, width, 3), np.uint8)
    with np.errstate(over="ignore"):
        for c in range(3):
            h = (x * np.uint32(73856093)) ^ (y * np.uint32(19349663)) ^ np.uint32((c + 1) * 83492791 + seed * 2654435761 % 2**32)
            h ^= h >> np.uint32(13)
            h *= np.uint32(0x5BD1E995)
            h ^= h >> np.uint32(15)
            noise = (h >> np.uint32(24)).astype(np.int64) - 128          # −128 … 127
            ramp = (x.astype(np.int64) * (3 + c) + y.astype(np.int64) * (5 - c)) * 255 // (width * (3 + c) + height * (5 - c))
            edge = np.where(((x // 7) + (y // 5) + c) % 2 == 0, 60, -60)   # hard edges: overshoot and clamping
            out[..., c] = np.clip(ramp + noise // 2 + edge, 0, 255).astype(np.uint8)
    return out


LANCZOS_CASES = [  # (w0, h0, W, H): horizontal first unless h0 − H > 2·(w0 − W) and H < h0
    (50, 40, 64, 56),    # upscale both
    (60, 90, 56, 40),    # vertical first (50 > 2·4)
    (61, 50, 53, 34),    # boundary: 16 == 2·8 → horizontal first
    (61, 50, 53, 33),    # boundary + 1: 17 > 16 → vertical first
    (97, 31, 40, 31),    # width only, strong downscale
    (23, 47, 23, 90),    # height only, upscale
    (320, 240, 256, 128),  # the resize-chunked sizes on a synthetic image
]


def make_lanczos():
    d = HERE / "lanczos"
    d.mkdir(exist_ok=True)
    for i, (w0, h0, w, h) in enumerate(LANCZOS_CASES):
        src = pattern(w0, h0, seed=i)
        out = np.asarray(Image.fromarray(src, "RGB").resize((w, h), Image.Resampling.LANCZOS))
        assert np.array_equal(out, reference.pillow_resize_lanczos(src, w, h)), "numpy port disagrees with Pillow"
        (d / f"{w0}x{h0}-to-{w}x{h}-seed{i}.rgb").write_bytes(out.tobytes())
        print(f"lanczos {w0}x{h0} -> {w}x{h}")


def make_clip():
    mean = (0.48145466, 0.4578275, 0.40821073)
    std = (0.26862954, 0.26130258, 0.27577711)
    d = HERE / "clip"
    d.mkdir(exist_ok=True)
    src = pattern(1000, 800, seed=11)    # σx = 1.73 → 7 taps, σy = 1.29 → 5 taps
    tensors = {"clip_pixel_values": reference.clip_pixel_values(src, mean, std).astype(np.float32)}
    reference.write_safetensors(d / "pattern-1000x800-seed11.safetensors", tensors)
    print("clip", {k: v.shape for k, v in tensors.items()})


def make_ffmpeg_stills():
    """A 63×47 image of four flat quadrants (split at 32/24, on JPEG MCU edges), encoded by the ffmpeg CLI."""
    import subprocess
    d = HERE / "other"
    d.mkdir(exist_ok=True)
    q = np.zeros((47, 63, 3), np.uint8)
    q[:24, :32] = (255, 0, 0)
    q[:24, 32:] = (0, 255, 0)
    q[24:, :32] = (0, 0, 255)
    q[24:, 32:] = (255, 255, 255)
    (d / "quadrants.png").write_bytes(encode_png(q, 8, 2))
    runs = {
        "quadrants.jpg": ["-q:v", "2", "-pix_fmt", "yuvj420p"],
        "quadrants.webp": ["-c:v", "libwebp", "-lossless", "0", "-quality", "90"],
        "quadrants-lossless.webp": ["-c:v", "libwebp", "-lossless", "1"],
        "quadrants.bmp": [],
    }
    for name, args in runs.items():
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(d / "quadrants.png"), *args, "-frames:v", "1",
                        "-fflags", "+bitexact", "-flags", "+bitexact", str(d / name)], check=True)
        with Image.open(d / name) as im:
            print(f"{name:26s} {im.format} {im.size} centres", [im.convert("RGB").getpixel(p) for p in
                                                                ((16, 12), (48, 12), (16, 36), (48, 36))])
    (d / "quadrants.png").unlink()


if __name__ == "__main__":
    make_pngs(np.random.default_rng(1234))
    make_lanczos()
    make_clip()
    make_ffmpeg_stills()
