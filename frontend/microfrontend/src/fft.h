/*
 * Fixed-point real FFT with Q15 twiddles whose rounding matches, value for
 * value, the int16 KISS FFT build that TensorFlow Lite Micro's frontend uses:
 * mixed radix 4 (and one radix-2 stage when needed), every stage input scaled
 * down by its radix, every product rounded to 16 bits, every sum wrapped to 16
 * bits. The stages run iteratively over separate real and imaginary arrays so
 * that the compiler can vectorize each butterfly loop.
 *
 * Results depend only on which values meet in each butterfly, not on where
 * they sit in memory, so the layout is chosen for long contiguous runs: the
 * early stages (many groups, few twiddles) run on the input in natural order,
 * where a butterfly's inputs are groups apart and a block shares one twiddle;
 * one gather then moves the data to KISS's digit-reversed slot order, where
 * the late stages (few groups, many twiddles) run along their twiddle rows.
 */
#ifndef MICROFRONTEND_FFT_H_
#define MICROFRONTEND_FFT_H_

#include <stddef.h>
#include <stdint.h>

#define MF_FFT_MAX_STAGES 16

typedef struct {
  size_t radix;  /* 4 or 2 */
  int16_t scale; /* 32767 / radix: the factor inputs are scaled down by */
  size_t span;   /* KISS span: number of distinct twiddle indices */
  size_t groups; /* KISS groups: half / (radix * span) */
  int natural;   /* runs on the natural-order layout */
  /* natural: [span][2 * (radix - 1)], one re/im pair per multiplier for each
   * block; slot order: [2 * (radix - 1)][span], re/im rows per multiplier. */
  int16_t* twiddles;
} mf_fft_stage;

typedef struct {
  size_t length;       /* real input length, a power of two >= 4 */
  size_t half;         /* complex transform length, length / 2 */
  size_t num_stages;
  size_t num_natural;  /* stages run before the gather to slot order */
  mf_fft_stage stages[MF_FFT_MAX_STAGES]; /* in execution order */
  uint32_t* slot_source;  /* [half]: natural position feeding each slot */
  /* The CPU has AVX2 (and the build its kernels): runs of 16 radix-4
   * butterflies take the AVX2 kernel, whose complex products are 16-bit
   * multiply-adds (pmaddwd). */
  int avx2;
  /* The gather to slot order is a 16 x 16 transposition (half = 256 with two
   * natural stages, the 16 kHz frames of 17 to 32 ms) and the CPU can do it
   * with vector shuffles; see transpose16(). */
  int transpose16;
  int16_t split_scale;    /* 32767 / 2 */
  int16_t* split_re;      /* [half / 2]: twiddles that split the packed */
  int16_t* split_im;      /* real transform into its spectrum */
  int16_t* work_re;       /* [half]: natural-order data */
  int16_t* work_im;       /* [half] */
  int16_t* slot_re;       /* [half]: slot-order data */
  int16_t* slot_im;       /* [half] */
} mf_fft;

int mf_fft_populate(mf_fft* fft, size_t input_size);
void mf_fft_free(mf_fft* fft);

/* Transforms frame[0..frame_size) shifted left by input_shift bits and
 * zero-padded to fft->length. Writes fft->length / 2 + 1 bins to out_re and
 * out_im. */
void mf_fft_compute(mf_fft* fft, const int16_t* frame, size_t frame_size,
                    int input_shift, int16_t* out_re, int16_t* out_im);

#endif
