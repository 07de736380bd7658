#ifndef CHALF_H
#define CHALF_H
/* 16-bit float → float32 conversion for compact weights. Both conversions are exact (every float16 and
   bfloat16 value is a float32 value), so a weight expanded here is bit-identical to one expanded at load.
   Signalling float16 NaNs come out quiet (payload kept), as the F16C instruction and PyTorch give them. */
#include <stddef.h>
#include <stdint.h>

/* `src` holds little-endian 16-bit values and need not be aligned.

   IEEE binary16 → float32: F16C when the CPU has it (checked once, at run time), else chalf_f16_to_f32_scalar. */
void chalf_f16_to_f32(const void *src, float *dst, size_t count);

/* The portable path, bit-identical to the F16C one for all 65,536 inputs. */
void chalf_f16_to_f32_scalar(const void *src, float *dst, size_t count);

/* bfloat16 → float32 (the high half of the float32 bits). */
void chalf_bf16_to_f32(const void *src, float *dst, size_t count);

/* 1 when chalf_f16_to_f32 uses F16C. */
int chalf_uses_f16c(void);

#endif
