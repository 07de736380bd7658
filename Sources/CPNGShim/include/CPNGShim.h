#ifndef CPNGSHIM_H
#define CPNGSHIM_H
/* libpng's full API behind plain return codes. libpng reports errors with longjmp, which Swift
   cannot survive (setjmp is unavailable to Swift and a longjmp across Swift frames is undefined),
   so every setjmp/longjmp stays inside pngshim.c. */
#include <stddef.h>
#include <stdint.h>

enum {
    PNGSHIM_OK = 0,
    PNGSHIM_TRUNCATED = 1,   /* the data ended before the image did */
    PNGSHIM_CORRUPT = 2,     /* libpng rejected the data (bad CRC, bad zlib stream, bad header, …) */
    PNGSHIM_TOO_LARGE = 3,   /* width·height exceeds the caller's limit */
    PNGSHIM_NO_MEMORY = 4,
    PNGSHIM_INVALID = 5      /* invalid arguments (encode) */
};

/* Decodes a whole PNG held in memory to 8-bit interleaved RGB, matching Pillow's
   `Image.open(p).convert("RGB")`: alpha and tRNS are dropped (not composited), palettes and 1/2/4-bit
   grey are expanded, 16-bit samples keep their high byte, except 16-bit grey without alpha, which
   Pillow opens as "I;16" and clips to 255 when converting. No gamma or colour management.
   On success *rgb holds width·height·3 bytes; release it with pngshim_free.
   On failure `message` receives libpng's text (NUL-terminated, truncated to message_size). */
int pngshim_decode_rgb8(const uint8_t *data, size_t size, uint64_t max_pixels,
                        uint32_t *width, uint32_t *height, uint8_t **rgb,
                        char *message, size_t message_size);

/* Encodes 8-bit interleaved RGB (rows top to bottom, no padding) as a non-interlaced PNG with no
   ancillary chunks. compression_level is zlib's 0…9. On success *png holds *png_size bytes; release
   it with pngshim_free. */
int pngshim_encode_rgb8(const uint8_t *rgb, uint32_t width, uint32_t height, int compression_level,
                        uint8_t **png, size_t *png_size, char *message, size_t message_size);

void pngshim_free(void *pointer);

#endif
