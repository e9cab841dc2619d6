/*
 * Fixed-point real FFT with Q15 twiddles whose rounding matches, value for
 * value, the int16 KISS FFT build that TensorFlow Lite Micro's frontend uses:
 * mixed radix 4 (and one radix-2 stage when needed), every stage input scaled
 * down by its radix, every product rounded to 16 bits, every sum wrapped to 16
 * bits. The stages run iteratively over separate real and imaginary arrays so
 * that the compiler can vectorize each butterfly loop.
 */
#ifndef MICROFRONTEND_FFT_H_
#define MICROFRONTEND_FFT_H_

#include <stddef.h>
#include <stdint.h>

#define MF_FFT_MAX_STAGES 16

typedef struct {
  size_t radix;  /* 4 or 2 */
  size_t span;   /* distance between the inputs of one butterfly */
  int16_t* twiddles; /* [2 * (radix - 1) * span]: re/im rows per multiplier */
} mf_fft_stage;

typedef struct {
  size_t length;       /* real input length, a power of two >= 4 */
  size_t half;         /* complex transform length, length / 2 */
  size_t num_stages;
  mf_fft_stage stages[MF_FFT_MAX_STAGES]; /* in execution order */
  uint32_t* input_order;  /* [half]: complex input index for each slot */
  int16_t* split_re;      /* [half / 2]: twiddles that split the packed */
  int16_t* split_im;      /* real transform into its spectrum */
  int16_t* work_re;       /* [half] */
  int16_t* work_im;       /* [half] */
  int16_t* input;         /* [length]: zero-padded, shifted frame */
} mf_fft;

int mf_fft_populate(mf_fft* fft, size_t input_size);
void mf_fft_free(mf_fft* fft);

/* Transforms frame[0..frame_size) shifted left by input_shift bits and
 * zero-padded to fft->length. Writes fft->length / 2 + 1 bins to out_re and
 * out_im. */
void mf_fft_compute(mf_fft* fft, const int16_t* frame, size_t frame_size,
                    int input_shift, int16_t* out_re, int16_t* out_im);

#endif
