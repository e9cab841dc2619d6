#include "fft.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bits.h"

#define Q15_ONE 32767
#define PI_DIGITS 3.141592653589793238462643383279502884197169399375105820974944

/* Rounds a Q30 product back to Q15 and wraps it to 16 bits. */
static inline int16_t round_q15(int32_t product) {
  return mf_wrap16((product + (1 << 14)) >> 15);
}

/* Scales by 1/radix the way the reference does: multiply by 32767/radix. */
static inline int16_t scale_down(int16_t x, int32_t factor) {
  return round_q15((int32_t)x * factor);
}

static int16_t q15_of(double value) {
  return (int16_t)floor(0.5 + Q15_ONE * value);
}

/* Twiddle j of an n-point transform: exp(-2 pi i j / n), rounded to Q15. The
 * phase is formed in the same order of operations as the reference so the
 * rounded values agree. */
static void twiddle(size_t j, size_t n, int16_t* re, int16_t* im) {
  const double phase = -2 * PI_DIGITS * (double)j / (double)n;
  *re = q15_of(cos(phase));
  *im = q15_of(sin(phase));
}

/* Slot order of the inputs: the decimation the recursive formulation applies,
 * outermost radix first. */
static void fill_input_order(uint32_t* order, size_t slot, uint32_t first,
                             size_t stride, const size_t* radices,
                             const size_t* spans, size_t level) {
  const size_t radix = radices[level];
  const size_t span = spans[level];
  for (size_t q = 0; q < radix; ++q) {
    if (span == 1) {
      order[slot + q] = first + (uint32_t)(q * stride);
    } else {
      fill_input_order(order, slot + q * span, first + (uint32_t)(q * stride),
                       stride * radix, radices, spans, level + 1);
    }
  }
}

int mf_fft_populate(mf_fft* fft, size_t input_size) {
  memset(fft, 0, sizeof(*fft));
  size_t length = 4;
  while (length < input_size) length <<= 1;
  fft->length = length;
  fft->half = length / 2;
  const size_t half = fft->half;

  /* Radix 4 while it divides, then radix 2: outermost level first. */
  size_t radices[MF_FFT_MAX_STAGES], spans[MF_FFT_MAX_STAGES];
  size_t levels = 0;
  for (size_t n = half; n > 1; ++levels) {
    radices[levels] = (n % 4 == 0) ? 4 : 2;
    n /= radices[levels];
    spans[levels] = n;
  }
  fft->num_stages = levels;

  fft->input_order = malloc(half * sizeof(uint32_t));
  fft->split_re = malloc((half / 2) * sizeof(int16_t));
  fft->split_im = malloc((half / 2) * sizeof(int16_t));
  fft->work_re = malloc(half * sizeof(int16_t));
  fft->work_im = malloc(half * sizeof(int16_t));
  fft->input = malloc(length * sizeof(int16_t));
  if (!fft->input_order || !fft->split_re || !fft->split_im ||
      !fft->work_re || !fft->work_im || !fft->input) {
    return 0;
  }
  fill_input_order(fft->input_order, 0, 0, 1, radices, spans, 0);

  /* Execution runs innermost level first. A level's butterflies use twiddle
   * k * stride for multiplier 1, 2 k * stride for 2 and so on, where stride is
   * the product of the radices outside it. */
  size_t stride = 1;
  for (size_t level = 0; level < levels; ++level) {
    mf_fft_stage* stage = &fft->stages[levels - 1 - level];
    stage->radix = radices[level];
    stage->span = spans[level];
    const size_t span = stage->span;
    stage->twiddles = malloc(2 * (stage->radix - 1) * span * sizeof(int16_t));
    if (!stage->twiddles) return 0;
    for (size_t multiplier = 1; multiplier < stage->radix; ++multiplier) {
      int16_t* row = stage->twiddles + 2 * (multiplier - 1) * span;
      for (size_t k = 0; k < span; ++k) {
        twiddle(multiplier * k * stride, half, &row[k], &row[span + k]);
      }
    }
    stride *= stage->radix;
  }

  for (size_t i = 0; i < half / 2; ++i) {
    const double phase = -PI_DIGITS * ((double)(i + 1) / (double)half + .5);
    fft->split_re[i] = q15_of(cos(phase));
    fft->split_im[i] = q15_of(sin(phase));
  }
  return 1;
}

void mf_fft_free(mf_fft* fft) {
  for (size_t s = 0; s < fft->num_stages; ++s) free(fft->stages[s].twiddles);
  free(fft->input_order);
  free(fft->split_re);
  free(fft->split_im);
  free(fft->work_re);
  free(fft->work_im);
  free(fft->input);
  memset(fft, 0, sizeof(*fft));
}

/* (a + ib)(c + id) with each part rounded to Q15. */
#define CMUL_RE(a, b, c, d) \
  round_q15((int32_t)(a) * (c) - (int32_t)(b) * (d))
#define CMUL_IM(a, b, c, d) \
  round_q15((int32_t)(a) * (d) + (int32_t)(b) * (c))

static void radix2_stage(int16_t* re, int16_t* im, size_t n,
                         const mf_fft_stage* stage) {
  const size_t span = stage->span;
  const int16_t* w_re = stage->twiddles;
  const int16_t* w_im = stage->twiddles + span;
  for (size_t base = 0; base < n; base += 2 * span) {
    int16_t* r0 = re + base;
    int16_t* i0 = im + base;
    int16_t* r1 = r0 + span;
    int16_t* i1 = i0 + span;
    for (size_t k = 0; k < span; ++k) {
      const int16_t ar = scale_down(r0[k], Q15_ONE / 2);
      const int16_t ai = scale_down(i0[k], Q15_ONE / 2);
      const int16_t br = scale_down(r1[k], Q15_ONE / 2);
      const int16_t bi = scale_down(i1[k], Q15_ONE / 2);
      const int16_t tr = CMUL_RE(br, bi, w_re[k], w_im[k]);
      const int16_t ti = CMUL_IM(br, bi, w_re[k], w_im[k]);
      r1[k] = mf_wrap16(ar - tr);
      i1[k] = mf_wrap16(ai - ti);
      r0[k] = mf_wrap16(ar + tr);
      i0[k] = mf_wrap16(ai + ti);
    }
  }
}

static void radix4_stage(int16_t* re, int16_t* im, size_t n,
                         const mf_fft_stage* stage) {
  const size_t span = stage->span;
  const int16_t* w1r = stage->twiddles;
  const int16_t* w1i = w1r + span;
  const int16_t* w2r = w1i + span;
  const int16_t* w2i = w2r + span;
  const int16_t* w3r = w2i + span;
  const int16_t* w3i = w3r + span;
  for (size_t base = 0; base < n; base += 4 * span) {
    int16_t* r0 = re + base;
    int16_t* i0 = im + base;
    int16_t* r1 = r0 + span;
    int16_t* i1 = i0 + span;
    int16_t* r2 = r1 + span;
    int16_t* i2 = i1 + span;
    int16_t* r3 = r2 + span;
    int16_t* i3 = i2 + span;
    for (size_t k = 0; k < span; ++k) {
      const int16_t ar = scale_down(r0[k], Q15_ONE / 4);
      const int16_t ai = scale_down(i0[k], Q15_ONE / 4);
      const int16_t br = scale_down(r1[k], Q15_ONE / 4);
      const int16_t bi = scale_down(i1[k], Q15_ONE / 4);
      const int16_t cr = scale_down(r2[k], Q15_ONE / 4);
      const int16_t ci = scale_down(i2[k], Q15_ONE / 4);
      const int16_t dr = scale_down(r3[k], Q15_ONE / 4);
      const int16_t di = scale_down(i3[k], Q15_ONE / 4);
      /* b, c, d rotated by their twiddles. */
      const int16_t br_w = CMUL_RE(br, bi, w1r[k], w1i[k]);
      const int16_t bi_w = CMUL_IM(br, bi, w1r[k], w1i[k]);
      const int16_t cr_w = CMUL_RE(cr, ci, w2r[k], w2i[k]);
      const int16_t ci_w = CMUL_IM(cr, ci, w2r[k], w2i[k]);
      const int16_t dr_w = CMUL_RE(dr, di, w3r[k], w3i[k]);
      const int16_t di_w = CMUL_IM(dr, di, w3r[k], w3i[k]);
      /* Every intermediate is a 16-bit value on the device; keep each wrap. */
      const int16_t a_minus_c_r = mf_wrap16(ar - cr_w);
      const int16_t a_minus_c_i = mf_wrap16(ai - ci_w);
      const int16_t a_plus_c_r = mf_wrap16(ar + cr_w);
      const int16_t a_plus_c_i = mf_wrap16(ai + ci_w);
      const int16_t b_plus_d_r = mf_wrap16(br_w + dr_w);
      const int16_t b_plus_d_i = mf_wrap16(bi_w + di_w);
      const int16_t b_minus_d_r = mf_wrap16(br_w - dr_w);
      const int16_t b_minus_d_i = mf_wrap16(bi_w - di_w);
      r2[k] = mf_wrap16(a_plus_c_r - b_plus_d_r);
      i2[k] = mf_wrap16(a_plus_c_i - b_plus_d_i);
      r0[k] = mf_wrap16(a_plus_c_r + b_plus_d_r);
      i0[k] = mf_wrap16(a_plus_c_i + b_plus_d_i);
      r1[k] = mf_wrap16(a_minus_c_r + b_minus_d_i);
      i1[k] = mf_wrap16(a_minus_c_i - b_minus_d_r);
      r3[k] = mf_wrap16(a_minus_c_r - b_minus_d_i);
      i3[k] = mf_wrap16(a_minus_c_i + b_minus_d_r);
    }
  }
}

void mf_fft_compute(mf_fft* fft, const int16_t* frame, size_t frame_size,
                    int input_shift, int16_t* out_re, int16_t* out_im) {
  const size_t half = fft->half;
  int16_t* input = fft->input;
  /* Shift through unsigned arithmetic: the device's 16-bit wrap, without the
   * undefined behaviour of shifting a negative int. */
  for (size_t i = 0; i < frame_size; ++i) {
    input[i] = mf_wrap16((int32_t)((uint32_t)(int32_t)frame[i] << input_shift));
  }
  memset(input + frame_size, 0, (fft->length - frame_size) * sizeof(int16_t));

  /* The real frame is read as a complex signal of half the length: even
   * samples are real parts, odd samples imaginary parts. */
  int16_t* re = fft->work_re;
  int16_t* im = fft->work_im;
  const uint32_t* order = fft->input_order;
  for (size_t slot = 0; slot < half; ++slot) {
    re[slot] = input[2 * order[slot]];
    im[slot] = input[2 * order[slot] + 1];
  }
  for (size_t s = 0; s < fft->num_stages; ++s) {
    const mf_fft_stage* stage = &fft->stages[s];
    if (stage->radix == 4) {
      radix4_stage(re, im, half, stage);
    } else {
      radix2_stage(re, im, half, stage);
    }
  }

  /* Split the packed transform into the spectrum of the real frame. */
  const int16_t dc_re = scale_down(re[0], Q15_ONE / 2);
  const int16_t dc_im = scale_down(im[0], Q15_ONE / 2);
  out_re[0] = mf_wrap16(dc_re + dc_im);
  out_im[0] = 0;
  out_re[half] = mf_wrap16(dc_re - dc_im);
  out_im[half] = 0;
  for (size_t k = 1; k <= half / 2; ++k) {
    const int16_t pk_r = scale_down(re[k], Q15_ONE / 2);
    const int16_t pk_i = scale_down(im[k], Q15_ONE / 2);
    const int16_t pnk_r = scale_down(re[half - k], Q15_ONE / 2);
    const int16_t pnk_i = scale_down(mf_wrap16(-(int32_t)im[half - k]),
                                     Q15_ONE / 2);
    const int16_t sum_r = mf_wrap16(pk_r + pnk_r);
    const int16_t sum_i = mf_wrap16(pk_i + pnk_i);
    const int16_t diff_r = mf_wrap16(pk_r - pnk_r);
    const int16_t diff_i = mf_wrap16(pk_i - pnk_i);
    const int16_t tw_r = CMUL_RE(diff_r, diff_i, fft->split_re[k - 1],
                                 fft->split_im[k - 1]);
    const int16_t tw_i = CMUL_IM(diff_r, diff_i, fft->split_re[k - 1],
                                 fft->split_im[k - 1]);
    out_re[k] = mf_wrap16((sum_r + tw_r) >> 1);
    out_im[k] = mf_wrap16((sum_i + tw_i) >> 1);
    out_re[half - k] = mf_wrap16((sum_r - tw_r) >> 1);
    out_im[half - k] = mf_wrap16((tw_i - sum_i) >> 1);
  }
}
