"""Makes the EXIF orientation fixtures with Pillow, the authority diffusers follows: `diffusers.utils.load_image`
turns every image the right way up with `PIL.ImageOps.exif_transpose`.

- orientation-N.png (N = 1…8): one 12×8 picture of distinct colours, stored with EXIF orientation N in an eXIf chunk.
- expected-N.png: what `ImageOps.exif_transpose` makes of orientation-N.png (lossless, so svdbatch must match
  it pixel for pixel).
- orientation-6.jpg, orientation-8.webp and plain.jpg / plain.webp: the same picture as JPEG and lossless WebP
  with and without the EXIF orientation (the compressed data is the same, only the EXIF differs).

Run from this folder: python3 make_fixtures.py   (Pillow 13.0.0 made the committed files)
"""
from PIL import Image, ImageOps

W, H = 12, 8
picture = Image.new("RGB", (W, H))
picture.putdata([((x * 21) % 256, (y * 31) % 256, (x * 7 + y * 13) % 256) for y in range(H) for x in range(W)])


def exif(orientation):
    e = Image.Exif()
    e[0x0112] = orientation
    return e.tobytes()


for n in range(1, 9):
    picture.save(f"orientation-{n}.png", exif=exif(n))
    ImageOps.exif_transpose(Image.open(f"orientation-{n}.png")).convert("RGB").save(f"expected-{n}.png")

picture.save("plain.jpg", quality=95)
picture.save("orientation-6.jpg", quality=95, exif=exif(6))
picture.save("plain.webp", lossless=True)
picture.save("orientation-8.webp", lossless=True, exif=exif(8))
