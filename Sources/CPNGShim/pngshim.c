#include "CPNGShim.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Shared by the error handler and the I/O callbacks: libpng hands it back through
   png_get_error_ptr / png_get_io_ptr. */
typedef struct {
    char *message;
    size_t message_size;
    const uint8_t *data;    /* decode: input; encode: output */
    size_t size;            /* decode: input length; encode: bytes written */
    size_t position;        /* decode: read position; encode: capacity */
    int truncated;
} shim_ctx;

static void set_message(shim_ctx *ctx, const char *text) {
    if (ctx->message && ctx->message_size > 0) snprintf(ctx->message, ctx->message_size, "%s", text);
}

static void on_error(png_structp png, png_const_charp text) {
    shim_ctx *ctx = png_get_error_ptr(png);
    /* Keep the first message: a truncation reported by read_data must not be overwritten. */
    if (ctx->message && ctx->message_size > 0 && ctx->message[0] == 0) set_message(ctx, text);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp text) {
    (void)png;
    (void)text; /* benign problems (unknown chunks, sRGB profile mismatches) are not worth reporting */
}

static void read_data(png_structp png, png_bytep out, size_t length) {
    shim_ctx *ctx = png_get_io_ptr(png);
    if (length > ctx->size - ctx->position) {
        ctx->truncated = 1;
        set_message(ctx, "the file ends in the middle of the image data");
        png_error(png, "truncated");
    }
    memcpy(out, ctx->data + ctx->position, length);
    ctx->position += length;
}

int pngshim_decode_rgb8(const uint8_t *data, size_t size, uint64_t max_pixels,
                        uint32_t *width, uint32_t *height, uint8_t **rgb,
                        char *message, size_t message_size) {
    shim_ctx ctx = { message, message_size, data, size, 0, 0 };
    if (message && message_size > 0) message[0] = 0;
    *rgb = NULL;
    *width = *height = 0;

    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, on_error, on_warning);
    if (!png) { set_message(&ctx, "out of memory"); return PNGSHIM_NO_MEMORY; }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        set_message(&ctx, "out of memory");
        return PNGSHIM_NO_MEMORY;
    }

    /* Written after setjmp, read after a longjmp: must be volatile. */
    uint8_t *volatile out = NULL;
    uint8_t *volatile raw = NULL;
    png_bytep *volatile rows = NULL;
    volatile int status = PNGSHIM_CORRUPT;

    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(out);
        free(raw);
        free(rows);
        return ctx.truncated ? PNGSHIM_TRUNCATED : status;
    }

    png_set_read_fn(png, &ctx, read_data);
    /* Any CRC error is fatal, also in ancillary chunks (libpng's default only warns for those). */
    png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
    png_read_info(png, info);

    png_uint_32 w = 0, h = 0;
    int depth = 0, color = 0, interlace = 0;
    png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    if ((uint64_t)w * (uint64_t)h > max_pixels) {
        status = PNGSHIM_TOO_LARGE;
        char text[128];
        snprintf(text, sizeof text, "%u×%u pixels exceeds the limit of %llu", (unsigned)w, (unsigned)h,
                 (unsigned long long)max_pixels);
        set_message(&ctx, text);
        png_error(png, text);
    }

    /* Pillow opens 16-bit grey as "I;16" and converts to RGB by clipping each sample at 255, not by
       taking the high byte; everything else 16-bit keeps the high byte ("RGB;16B", "LA;16B", …). */
    const int clip16 = (depth == 16 && color == PNG_COLOR_TYPE_GRAY);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16 && !clip16) png_set_strip_16(png);
    if (!clip16 && (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA)) png_set_gray_to_rgb(png);
    /* Drops a real alpha channel and one that palette/grey expansion made from tRNS; without
       png_set_background nothing is composited. */
    png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    const int channels = png_get_channels(png, info);
    const int out_depth = png_get_bit_depth(png, info);
    const size_t row_bytes = png_get_rowbytes(png, info);
    const size_t want_channels = clip16 ? 1 : 3, want_depth = clip16 ? 16 : 8;
    if ((size_t)channels != want_channels || (size_t)out_depth != want_depth ||
        row_bytes != (size_t)w * want_channels * want_depth / 8) {
        char text[128];
        snprintf(text, sizeof text, "unexpected libpng output layout (%d channels, %d bits)", channels, out_depth);
        png_error(png, text);
    }

    const size_t pixels = (size_t)w * h;
    status = PNGSHIM_NO_MEMORY;
    out = malloc(pixels * 3);
    if (clip16) raw = malloc(pixels * 2);
    rows = malloc(sizeof(png_bytep) * h);
    if (!out || (clip16 && !raw) || !rows) png_error(png, "out of memory");
    status = PNGSHIM_CORRUPT;
    uint8_t *target = clip16 ? raw : out;
    for (png_uint_32 y = 0; y < h; y++) rows[y] = target + (size_t)y * row_bytes;
    png_read_image(png, rows);
    /* Like Pillow, do not insist on what follows the image data (text chunks, IEND). */

    if (clip16) {
        for (size_t i = 0; i < pixels; i++) {
            unsigned v = ((unsigned)raw[2 * i] << 8) | raw[2 * i + 1];   /* big-endian: no png_set_swap */
            uint8_t c = v > 255 ? 255 : (uint8_t)v;
            out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = c;
        }
    }

    png_destroy_read_struct(&png, &info, NULL);
    free(raw);
    free(rows);
    *width = w;
    *height = h;
    *rgb = out;
    return PNGSHIM_OK;
}

static void write_data(png_structp png, png_bytep bytes, size_t length) {
    shim_ctx *ctx = png_get_io_ptr(png);
    if (length > ctx->position - ctx->size) {
        size_t capacity = ctx->position ? ctx->position : 4096;
        while (capacity - ctx->size < length) {
            if (capacity > SIZE_MAX / 2) png_error(png, "out of memory");
            capacity *= 2;
        }
        uint8_t *grown = realloc((void *)ctx->data, capacity);
        if (!grown) png_error(png, "out of memory");
        ctx->data = grown;
        ctx->position = capacity;
    }
    memcpy((uint8_t *)ctx->data + ctx->size, bytes, length);
    ctx->size += length;
}

static void flush_data(png_structp png) { (void)png; }

int pngshim_encode_rgb8(const uint8_t *rgb, uint32_t width, uint32_t height, int compression_level,
                        uint8_t **png_out, size_t *png_size, char *message, size_t message_size) {
    shim_ctx ctx = { message, message_size, NULL, 0, 0, 0 };
    if (message && message_size > 0) message[0] = 0;
    *png_out = NULL;
    *png_size = 0;
    if (!rgb || width == 0 || height == 0 || compression_level < 0 || compression_level > 9) {
        set_message(&ctx, "invalid image or compression level");
        return PNGSHIM_INVALID;
    }

    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, on_error, on_warning);
    if (!png) { set_message(&ctx, "out of memory"); return PNGSHIM_NO_MEMORY; }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        set_message(&ctx, "out of memory");
        return PNGSHIM_NO_MEMORY;
    }
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(rows);
        free((void *)ctx.data);   /* ctx lives in this frame and is only changed through a pointer */
        return PNGSHIM_CORRUPT;
    }

    png_set_write_fn(png, &ctx, write_data, flush_data);
    png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, compression_level);
    rows = malloc(sizeof(png_bytep) * height);
    if (!rows) png_error(png, "out of memory");
    for (uint32_t y = 0; y < height; y++) rows[y] = (png_bytep)(rgb + (size_t)y * width * 3); /* read only */
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);

    *png_out = (uint8_t *)ctx.data;
    *png_size = ctx.size;
    return PNGSHIM_OK;
}

void pngshim_free(void *pointer) { free(pointer); }
