#include "fft.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bits.h"

#if MF_X86_KERNELS
#include <immintrin.h>
#endif

#define Q15_ONE 32767
#define PI_DIGITS 3.141592653589793238462643383279502884197169399375105820974944

/* Rounds a Q30 value back to Q15 and wraps it to 16 bits. */
static inline int16_t round_q15(int32_t product) {
  return mf_wrap16((product + (1 << 14)) >> 15);
}

/* Scales by factor / 2^15 the way the reference scales by 1/radix (factor
 * 32767 / radix). Spelled as a rounding multiply-high that compilers map to
 * one instruction (pmulhrsw): (p >> 14) + 1 >> 1 equals (p + 2^14) >> 15 for
 * every p. They only recognize it when factor is a 16-bit variable, not a
 * literal, so the factors come from the stage structures at run time. */
static inline int16_t scale_down(int32_t x, int32_t factor) {
  return mf_wrap16((((x * factor) >> 14) + 1) >> 1);
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

#if MF_X86_KERNELS
/* Swaps the two base-4 digits of a number below 16. */
static size_t swap_digits4(size_t x) { return (x % 4) * 4 + x / 4; }
#endif

/* Whether the gather to slot order can take the vector transposition: the
 * CPU has AVX2 and the gather is a 16 x 16 transposition with both indices
 * digit-swapped (for half = 256 after two radix-4 stages, slot order is the
 * base-4 digit reversal of the natural order). */
static int is_transpose16(const uint32_t* slot_source, size_t half) {
#if MF_X86_KERNELS
  if (half != 256) return 0;
  for (size_t slot = 0; slot < half; ++slot) {
    const size_t row = slot / 16, column = slot % 16;
    if (slot_source[slot] != 16 * swap_digits4(column) + swap_digits4(row)) {
      return 0;
    }
  }
  return 1;
#else
  (void)slot_source;
  (void)half;
  return 0;
#endif
}

int mf_fft_populate(mf_fft* fft, size_t input_size) {
  memset(fft, 0, sizeof(*fft));
  size_t length = 4;
  while (length < input_size) length <<= 1;
  fft->length = length;
  fft->half = length / 2;
  const size_t half = fft->half;

  /* Radix 4 while it divides, then radix 2: outermost level first. Level l
   * butterflies over input digit l, whose weight in the natural input index
   * is the product of the radices outside it (its KISS stride, or number of
   * groups); its KISS span is the product of the radices inside it. */
  size_t radices[MF_FFT_MAX_STAGES], spans[MF_FFT_MAX_STAGES];
  size_t weights[MF_FFT_MAX_STAGES];
  size_t levels = 0;
  for (size_t n = half, weight = 1; n > 1; ++levels) {
    radices[levels] = (n % 4 == 0) ? 4 : 2;
    n /= radices[levels];
    spans[levels] = n;
    weights[levels] = weight;
    weight *= radices[levels];
  }
  fft->num_stages = levels;

  fft->slot_source = malloc(half * sizeof(uint32_t));
  fft->split_re = malloc((half / 2) * sizeof(int16_t));
  fft->split_im = malloc((half / 2) * sizeof(int16_t));
  fft->work_re = malloc(half * sizeof(int16_t));
  fft->work_im = malloc(half * sizeof(int16_t));
  fft->slot_re = malloc(half * sizeof(int16_t));
  fft->slot_im = malloc(half * sizeof(int16_t));
  if (!fft->slot_source || !fft->split_re || !fft->split_im ||
      !fft->work_re || !fft->work_im || !fft->slot_re || !fft->slot_im) {
    return 0;
  }

  /* A value whose level digits are d_l sits at natural position
   * sum d_l * weight_l and at KISS slot sum d_l * span_l. */
  for (size_t pos = 0; pos < half; ++pos) {
    size_t slot = 0;
    for (size_t l = 0; l < levels; ++l) {
      slot += (pos / weights[l]) % radices[l] * spans[l];
    }
    fft->slot_source[slot] = (uint32_t)pos;
  }

  fft->avx2 = mf_cpu_has_avx2();
  fft->transpose16 = fft->avx2 && is_transpose16(fft->slot_source, half);

  /* Execution runs innermost level first. A level's butterflies use twiddle
   * k * stride for multiplier 1, 2 k * stride for 2 and so on, where stride is
   * its weight and k is made of the output digits of the levels inside it. */
  for (size_t l = 0; l < levels; ++l) {
    mf_fft_stage* stage = &fft->stages[levels - 1 - l];
    const size_t radix = radices[l];
    const size_t span = spans[l];
    stage->radix = radix;
    stage->scale = (int16_t)(Q15_ONE / radix);
    stage->span = span;
    stage->groups = weights[l];
    /* Groups shrink and spans grow along execution, so the natural stages
     * form a prefix. */
    stage->natural = stage->groups >= span;
    stage->twiddles = malloc(2 * (radix - 1) * span * sizeof(int16_t));
    if (!stage->twiddles) return 0;
    for (size_t block = 0; block < span; ++block) {
      /* In natural order, block number b holds the inner levels' digits at
       * weights relative to the next level; k weighs them by their spans. */
      size_t k = block;
      if (stage->natural) {
        size_t rest = block;
        k = 0;
        for (size_t inner = l + 1; inner < levels; ++inner) {
          k += rest % radices[inner] * spans[inner];
          rest /= radices[inner];
        }
      }
      for (size_t m = 1; m < radix; ++m) {
        int16_t *re, *im;
        if (stage->natural) {
          re = &stage->twiddles[2 * (radix - 1) * block + 2 * (m - 1)];
          im = re + 1;
        } else {
          re = &stage->twiddles[2 * (m - 1) * span + block];
          im = re + span;
        }
        twiddle(m * k * weights[l], half, re, im);
      }
    }
    if (stage->natural) ++fft->num_natural;
  }

  fft->split_scale = Q15_ONE / 2;
  for (size_t i = 0; i < half / 2; ++i) {
    const double phase = -PI_DIGITS * ((double)(i + 1) / (double)half + .5);
    fft->split_re[i] = q15_of(cos(phase));
    fft->split_im[i] = q15_of(sin(phase));
  }
  return 1;
}

void mf_fft_free(mf_fft* fft) {
  for (size_t s = 0; s < fft->num_stages; ++s) free(fft->stages[s].twiddles);
  free(fft->slot_source);
  free(fft->split_re);
  free(fft->split_im);
  free(fft->work_re);
  free(fft->work_im);
  free(fft->slot_re);
  free(fft->slot_im);
  memset(fft, 0, sizeof(*fft));
}

/* (a + ib)(c + id) with each part rounded to Q15. */
#define CMUL_RE(a, b, c, d) \
  round_q15((int32_t)(a) * (c) - (int32_t)(b) * (d))
#define CMUL_IM(a, b, c, d) \
  round_q15((int32_t)(a) * (d) + (int32_t)(b) * (c))

/* One radix-2 butterfly, in place. */
static inline void butterfly2(int16_t* r0, int16_t* i0, int16_t* r1,
                              int16_t* i1, int16_t scale, int32_t wr,
                              int32_t wi) {
  const int16_t ar = scale_down(*r0, scale);
  const int16_t ai = scale_down(*i0, scale);
  const int16_t br = scale_down(*r1, scale);
  const int16_t bi = scale_down(*i1, scale);
  const int16_t tr = CMUL_RE(br, bi, wr, wi);
  const int16_t ti = CMUL_IM(br, bi, wr, wi);
  *r1 = mf_wrap16(ar - tr);
  *i1 = mf_wrap16(ai - ti);
  *r0 = mf_wrap16(ar + tr);
  *i0 = mf_wrap16(ai + ti);
}

/* One radix-4 butterfly, in place; w holds the re/im twiddle of multipliers
 * 1, 2 and 3. */
static inline void butterfly4(int16_t* r0, int16_t* i0, int16_t* r1,
                              int16_t* i1, int16_t* r2, int16_t* i2,
                              int16_t* r3, int16_t* i3, int16_t scale,
                              int32_t w1r,
                              int32_t w1i, int32_t w2r, int32_t w2i,
                              int32_t w3r, int32_t w3i) {
  const int16_t ar = scale_down(*r0, scale);
  const int16_t ai = scale_down(*i0, scale);
  const int16_t br = scale_down(*r1, scale);
  const int16_t bi = scale_down(*i1, scale);
  const int16_t cr = scale_down(*r2, scale);
  const int16_t ci = scale_down(*i2, scale);
  const int16_t dr = scale_down(*r3, scale);
  const int16_t di = scale_down(*i3, scale);
  /* b, c, d rotated by their twiddles. */
  const int16_t br_w = CMUL_RE(br, bi, w1r, w1i);
  const int16_t bi_w = CMUL_IM(br, bi, w1r, w1i);
  const int16_t cr_w = CMUL_RE(cr, ci, w2r, w2i);
  const int16_t ci_w = CMUL_IM(cr, ci, w2r, w2i);
  const int16_t dr_w = CMUL_RE(dr, di, w3r, w3i);
  const int16_t di_w = CMUL_IM(dr, di, w3r, w3i);
  /* Every intermediate is a 16-bit value on the device; keep each wrap. */
  const int16_t a_minus_c_r = mf_wrap16(ar - cr_w);
  const int16_t a_minus_c_i = mf_wrap16(ai - ci_w);
  const int16_t a_plus_c_r = mf_wrap16(ar + cr_w);
  const int16_t a_plus_c_i = mf_wrap16(ai + ci_w);
  const int16_t b_plus_d_r = mf_wrap16(br_w + dr_w);
  const int16_t b_plus_d_i = mf_wrap16(bi_w + di_w);
  const int16_t b_minus_d_r = mf_wrap16(br_w - dr_w);
  const int16_t b_minus_d_i = mf_wrap16(bi_w - di_w);
  *r2 = mf_wrap16(a_plus_c_r - b_plus_d_r);
  *i2 = mf_wrap16(a_plus_c_i - b_plus_d_i);
  *r0 = mf_wrap16(a_plus_c_r + b_plus_d_r);
  *i0 = mf_wrap16(a_plus_c_i + b_plus_d_i);
  *r1 = mf_wrap16(a_minus_c_r + b_minus_d_i);
  *i1 = mf_wrap16(a_minus_c_i - b_minus_d_r);
  *r3 = mf_wrap16(a_minus_c_r - b_minus_d_i);
  *i3 = mf_wrap16(a_minus_c_i + b_minus_d_r);
}

/* The runs below take each butterfly input as its own restrict pointer: the
 * rows are disjoint, and saying so lets the loops vectorize without runtime
 * overlap checks. They stay out of line because compilers drop what restrict
 * says about parameters once a call is inlined. */
#if defined(__GNUC__)
#define MF_NOINLINE __attribute__((noinline))
#else
#define MF_NOINLINE
#endif

/* n radix-2 butterflies sharing one twiddle. */
MF_NOINLINE MF_VECTOR_CLONES
static void radix2_run_shared(int16_t* restrict r0, int16_t* restrict i0,
                              int16_t* restrict r1, int16_t* restrict i1,
                              size_t n, int16_t scale, const int16_t* w) {
  const int32_t wr = w[0], wi = w[1];
  for (size_t j = 0; j < n; ++j) {
    butterfly2(&r0[j], &i0[j], &r1[j], &i1[j], scale, wr, wi);
  }
}

/* n radix-2 butterflies along a twiddle row. */
MF_NOINLINE MF_VECTOR_CLONES
static void radix2_run_rows(int16_t* restrict r0, int16_t* restrict i0,
                            int16_t* restrict r1, int16_t* restrict i1,
                            size_t n, int16_t scale,
                            const int16_t* restrict wr,
                            const int16_t* restrict wi) {
  for (size_t k = 0; k < n; ++k) {
    butterfly2(&r0[k], &i0[k], &r1[k], &i1[k], scale, wr[k], wi[k]);
  }
}

/* n radix-4 butterflies sharing one set of twiddles. */
MF_NOINLINE MF_VECTOR_CLONES
static void radix4_run_shared(int16_t* restrict r0, int16_t* restrict i0,
                              int16_t* restrict r1, int16_t* restrict i1,
                              int16_t* restrict r2, int16_t* restrict i2,
                              int16_t* restrict r3, int16_t* restrict i3,
                              size_t n, int16_t scale, const int16_t* w) {
  const int32_t w1r = w[0], w1i = w[1], w2r = w[2], w2i = w[3];
  const int32_t w3r = w[4], w3i = w[5];
  for (size_t j = 0; j < n; ++j) {
    butterfly4(&r0[j], &i0[j], &r1[j], &i1[j], &r2[j], &i2[j], &r3[j], &i3[j],
               scale, w1r, w1i, w2r, w2i, w3r, w3i);
  }
}

/* n radix-4 butterflies along the twiddle rows w[0..6) of stride n. */
MF_NOINLINE MF_VECTOR_CLONES
static void radix4_run_rows(int16_t* restrict r0, int16_t* restrict i0,
                            int16_t* restrict r1, int16_t* restrict i1,
                            int16_t* restrict r2, int16_t* restrict i2,
                            int16_t* restrict r3, int16_t* restrict i3,
                            size_t n, int16_t scale,
                            const int16_t* restrict w) {
  const int16_t* w1r = w;
  const int16_t* w1i = w1r + n;
  const int16_t* w2r = w1i + n;
  const int16_t* w2i = w2r + n;
  const int16_t* w3r = w2i + n;
  const int16_t* w3i = w3r + n;
  for (size_t k = 0; k < n; ++k) {
    butterfly4(&r0[k], &i0[k], &r1[k], &i1[k], &r2[k], &i2[k], &r3[k], &i3[k],
               scale, w1r[k], w1i[k], w2r[k], w2i[k], w3r[k], w3i[k]);
  }
}

#if MF_X86_KERNELS
#define AVX2 __attribute__((target("avx2")))
#define LOAD16(p) _mm256_loadu_si256((const __m256i*)(const void*)(p))
#define STORE16(p, v) _mm256_storeu_si256((__m256i*)(void*)(p), (v))

/* A twiddle as the 16-bit pairs that pmaddwd multiplies (re, im) pairs by:
 * (w_re, -w_im) gives the real part, (w_im, w_re) the imaginary one; low and
 * high for the pairs that unpacklo and unpackhi form. -w_im fits 16 bits:
 * twiddles are at least -32767. */
typedef struct {
  __m256i re_low, re_high, im_low, im_high;
} twiddle_pairs;

AVX2 static inline twiddle_pairs shared_pairs(int16_t w_re, int16_t w_im) {
  const uint32_t re = (uint16_t)w_re | (uint32_t)(uint16_t)mf_wrap16(-w_im)
                                           << 16;
  const uint32_t im = (uint16_t)w_im | (uint32_t)(uint16_t)w_re << 16;
  twiddle_pairs w;
  w.re_low = w.re_high = _mm256_set1_epi32((int32_t)re);
  w.im_low = w.im_high = _mm256_set1_epi32((int32_t)im);
  return w;
}

AVX2 static inline twiddle_pairs row_pairs(const int16_t* w_re,
                                           const int16_t* w_im) {
  const __m256i re = LOAD16(w_re);
  const __m256i im = LOAD16(w_im);
  const __m256i minus_im = _mm256_sub_epi16(_mm256_setzero_si256(), im);
  twiddle_pairs w;
  w.re_low = _mm256_unpacklo_epi16(re, minus_im);
  w.re_high = _mm256_unpackhi_epi16(re, minus_im);
  w.im_low = _mm256_unpacklo_epi16(im, re);
  w.im_high = _mm256_unpackhi_epi16(im, re);
  return w;
}

/* round_q15 of 8 32-bit sums, kept to their low 16 bits (the wrap). */
AVX2 static inline __m256i round_q15_low(__m256i sum) {
  const __m256i rounded = _mm256_srai_epi32(
      _mm256_add_epi32(sum, _mm256_set1_epi32(1 << 14)), 15);
  return _mm256_and_si256(rounded, _mm256_set1_epi32(0xFFFF));
}

/* CMUL_RE and CMUL_IM of 16 lanes. unpacklo/hi take lanes 0-3 and 8-11,
 * then 4-7 and 12-15; packus of the two puts them back in order. */
AVX2 static inline void cmul16(__m256i re, __m256i im, const twiddle_pairs* w,
                               __m256i* out_re, __m256i* out_im) {
  const __m256i low = _mm256_unpacklo_epi16(re, im);
  const __m256i high = _mm256_unpackhi_epi16(re, im);
  *out_re = _mm256_packus_epi32(
      round_q15_low(_mm256_madd_epi16(low, w->re_low)),
      round_q15_low(_mm256_madd_epi16(high, w->re_high)));
  *out_im = _mm256_packus_epi32(
      round_q15_low(_mm256_madd_epi16(low, w->im_low)),
      round_q15_low(_mm256_madd_epi16(high, w->im_high)));
}

/* butterfly4 on 16 lanes at offset j of each row; w holds multipliers 1-3.
 * Or, when real is given, the twiddles are real (block 0 of every natural
 * stage, whose twiddles are all exp(0)) and real holds them: each product
 * is then round_q15(x * w_re), a single rounding multiply (pmulhrsw). */
AVX2 static inline void butterfly4_x16(int16_t* r0, int16_t* i0, int16_t* r1,
                                       int16_t* i1, int16_t* r2, int16_t* i2,
                                       int16_t* r3, int16_t* i3, size_t j,
                                       __m256i scale,
                                       const twiddle_pairs* w,
                                       const __m256i* real) {
  const __m256i ar = _mm256_mulhrs_epi16(LOAD16(r0 + j), scale);
  const __m256i ai = _mm256_mulhrs_epi16(LOAD16(i0 + j), scale);
  const __m256i br = _mm256_mulhrs_epi16(LOAD16(r1 + j), scale);
  const __m256i bi = _mm256_mulhrs_epi16(LOAD16(i1 + j), scale);
  const __m256i cr = _mm256_mulhrs_epi16(LOAD16(r2 + j), scale);
  const __m256i ci = _mm256_mulhrs_epi16(LOAD16(i2 + j), scale);
  const __m256i dr = _mm256_mulhrs_epi16(LOAD16(r3 + j), scale);
  const __m256i di = _mm256_mulhrs_epi16(LOAD16(i3 + j), scale);
  __m256i br_w, bi_w, cr_w, ci_w, dr_w, di_w;
  if (real) {
    br_w = _mm256_mulhrs_epi16(br, real[0]);
    bi_w = _mm256_mulhrs_epi16(bi, real[0]);
    cr_w = _mm256_mulhrs_epi16(cr, real[1]);
    ci_w = _mm256_mulhrs_epi16(ci, real[1]);
    dr_w = _mm256_mulhrs_epi16(dr, real[2]);
    di_w = _mm256_mulhrs_epi16(di, real[2]);
  } else {
    cmul16(br, bi, &w[0], &br_w, &bi_w);
    cmul16(cr, ci, &w[1], &cr_w, &ci_w);
    cmul16(dr, di, &w[2], &dr_w, &di_w);
  }
  const __m256i a_minus_c_r = _mm256_sub_epi16(ar, cr_w);
  const __m256i a_minus_c_i = _mm256_sub_epi16(ai, ci_w);
  const __m256i a_plus_c_r = _mm256_add_epi16(ar, cr_w);
  const __m256i a_plus_c_i = _mm256_add_epi16(ai, ci_w);
  const __m256i b_plus_d_r = _mm256_add_epi16(br_w, dr_w);
  const __m256i b_plus_d_i = _mm256_add_epi16(bi_w, di_w);
  const __m256i b_minus_d_r = _mm256_sub_epi16(br_w, dr_w);
  const __m256i b_minus_d_i = _mm256_sub_epi16(bi_w, di_w);
  STORE16(r2 + j, _mm256_sub_epi16(a_plus_c_r, b_plus_d_r));
  STORE16(i2 + j, _mm256_sub_epi16(a_plus_c_i, b_plus_d_i));
  STORE16(r0 + j, _mm256_add_epi16(a_plus_c_r, b_plus_d_r));
  STORE16(i0 + j, _mm256_add_epi16(a_plus_c_i, b_plus_d_i));
  STORE16(r1 + j, _mm256_add_epi16(a_minus_c_r, b_minus_d_i));
  STORE16(i1 + j, _mm256_sub_epi16(a_minus_c_i, b_minus_d_r));
  STORE16(r3 + j, _mm256_sub_epi16(a_minus_c_r, b_minus_d_i));
  STORE16(i3 + j, _mm256_add_epi16(a_minus_c_i, b_minus_d_r));
}

/* A natural-order radix-4 stage whose groups are a multiple of 16, in one
 * call: each block's butterflies share its twiddles, which for block 0 are
 * real. */
AVX2 static void radix4_natural_stage_avx2(int16_t* re, int16_t* im,
                                           size_t n,
                                           const mf_fft_stage* stage) {
  const size_t p = stage->groups;
  const __m256i factor = _mm256_set1_epi16(stage->scale);
  for (size_t base = 0, b = 0; base < n; base += 4 * p, ++b) {
    int16_t* r = re + base;
    int16_t* i = im + base;
    const int16_t* w = stage->twiddles + 6 * b;
    if (w[1] == 0 && w[3] == 0 && w[5] == 0) {
      const __m256i real[3] = {_mm256_set1_epi16(w[0]),
                               _mm256_set1_epi16(w[2]),
                               _mm256_set1_epi16(w[4])};
      for (size_t j = 0; j < p; j += 16) {
        butterfly4_x16(r, i, r + p, i + p, r + 2 * p, i + 2 * p, r + 3 * p,
                       i + 3 * p, j, factor, NULL, real);
      }
      continue;
    }
    const twiddle_pairs pairs[3] = {shared_pairs(w[0], w[1]),
                                    shared_pairs(w[2], w[3]),
                                    shared_pairs(w[4], w[5])};
    for (size_t j = 0; j < p; j += 16) {
      butterfly4_x16(r, i, r + p, i + p, r + 2 * p, i + 2 * p, r + 3 * p,
                     i + 3 * p, j, factor, pairs, NULL);
    }
  }
}

/* A slot-order radix-4 stage whose span is a multiple of 16, in one call:
 * every block runs along the same twiddle rows, so each run of 16 twiddles
 * is put in multiply-add form once for all blocks. */
AVX2 static void radix4_slot_stage_avx2(int16_t* re, int16_t* im, size_t n,
                                        const mf_fft_stage* stage) {
  const size_t span = stage->span;
  const int16_t* w = stage->twiddles;
  const __m256i factor = _mm256_set1_epi16(stage->scale);
  for (size_t k = 0; k < span; k += 16) {
    const twiddle_pairs pairs[3] = {
        row_pairs(w + k, w + span + k),
        row_pairs(w + 2 * span + k, w + 3 * span + k),
        row_pairs(w + 4 * span + k, w + 5 * span + k)};
    for (size_t base = 0; base < n; base += 4 * span) {
      int16_t* r = re + base;
      int16_t* i = im + base;
      butterfly4_x16(r, i, r + span, i + span, r + 2 * span, i + 2 * span,
                     r + 3 * span, i + 3 * span, k, factor, pairs, NULL);
    }
  }
}
#endif

/* Natural order: a butterfly's inputs are `groups` apart, and each block of
 * radix * groups values shares the twiddles of its block number. */
static void natural_stage(int16_t* re, int16_t* im, size_t n,
                          const mf_fft_stage* stage, int avx2) {
  (void)avx2; /* without the x86 kernels */
  const size_t p = stage->groups;
  const size_t block = stage->radix * p;
#if MF_X86_KERNELS
  if (avx2 && stage->radix == 4 && p % 16 == 0) {
    radix4_natural_stage_avx2(re, im, n, stage);
    return;
  }
#endif
  for (size_t b = 0; b < n / block; ++b) {
    int16_t* r = re + b * block;
    int16_t* i = im + b * block;
    const int16_t* w = stage->twiddles + 2 * (stage->radix - 1) * b;
    if (stage->radix == 4) {
      radix4_run_shared(r, i, r + p, i + p, r + 2 * p, i + 2 * p, r + 3 * p,
                        i + 3 * p, p, stage->scale, w);
    } else {
      radix2_run_shared(r, i, r + p, i + p, p, stage->scale, w);
    }
  }
}

/* Slot order: a butterfly's inputs are `span` apart and a group runs along
 * the twiddle rows. */
static void slot_stage(int16_t* re, int16_t* im, size_t n,
                       const mf_fft_stage* stage, int avx2) {
  (void)avx2; /* without the x86 kernels */
  const size_t span = stage->span;
  const size_t block = stage->radix * span;
#if MF_X86_KERNELS
  if (avx2 && stage->radix == 4 && span % 16 == 0) {
    radix4_slot_stage_avx2(re, im, n, stage);
    return;
  }
#endif
  for (size_t base = 0; base < n; base += block) {
    int16_t* r = re + base;
    int16_t* i = im + base;
    if (stage->radix == 4) {
      radix4_run_rows(r, i, r + span, i + span, r + 2 * span, i + 2 * span,
                      r + 3 * span, i + 3 * span, span, stage->scale,
                      stage->twiddles);
    } else {
      radix2_run_rows(r, i, r + span, i + span, span, stage->scale,
                      stage->twiddles,
                      stage->twiddles + span);
    }
  }
}

/* Bins k and half - k of the real spectrum from p[k] and conj(p[half - k]). */
static inline void split_bin(const int16_t* re, const int16_t* im,
                             int16_t scale, const int16_t* w_re,
                             const int16_t* w_im,
                             size_t half, size_t k, int16_t* out_re,
                             int16_t* out_im) {
  const int16_t pk_r = scale_down(re[k], scale);
  const int16_t pk_i = scale_down(im[k], scale);
  const int16_t pnk_r = scale_down(re[half - k], scale);
  const int16_t pnk_i =
      scale_down(mf_wrap16(-(int32_t)im[half - k]), scale);
  const int16_t sum_r = mf_wrap16(pk_r + pnk_r);
  const int16_t sum_i = mf_wrap16(pk_i + pnk_i);
  const int16_t diff_r = mf_wrap16(pk_r - pnk_r);
  const int16_t diff_i = mf_wrap16(pk_i - pnk_i);
  const int16_t tw_r = CMUL_RE(diff_r, diff_i, w_re[k - 1], w_im[k - 1]);
  const int16_t tw_i = CMUL_IM(diff_r, diff_i, w_re[k - 1], w_im[k - 1]);
  out_re[k] = mf_wrap16((sum_r + tw_r) >> 1);
  out_im[k] = mf_wrap16((sum_i + tw_i) >> 1);
  out_re[half - k] = mf_wrap16((sum_r - tw_r) >> 1);
  out_im[half - k] = mf_wrap16((tw_i - sum_i) >> 1);
}

#if MF_X86_KERNELS
/* Reverses the order of 16 int16 lanes. */
AVX2 static inline __m256i reverse16(__m256i x) {
  const __m256i in_lane = _mm256_shuffle_epi8(
      x, _mm256_setr_epi8(14, 15, 12, 13, 10, 11, 8, 9, 6, 7, 4, 5, 2, 3, 0,
                          1, 14, 15, 12, 13, 10, 11, 8, 9, 6, 7, 4, 5, 2, 3,
                          0, 1));
  return _mm256_permute4x64_epi64(in_lane, 0x4E);
}

/* (a + b) >> 1 and (a - b) >> 1 as computed in 32 bits, for 16-bit a and b:
 * halves and the carry of the low bits, which never leave 16 bits. */
AVX2 static inline __m256i half_sum16(__m256i a, __m256i b) {
  const __m256i carry = _mm256_and_si256(_mm256_and_si256(a, b),
                                         _mm256_set1_epi16(1));
  return _mm256_add_epi16(
      _mm256_add_epi16(_mm256_srai_epi16(a, 1), _mm256_srai_epi16(b, 1)),
      carry);
}

AVX2 static inline __m256i half_difference16(__m256i a, __m256i b) {
  const __m256i borrow = _mm256_and_si256(_mm256_andnot_si256(a, b),
                                          _mm256_set1_epi16(1));
  return _mm256_sub_epi16(
      _mm256_sub_epi16(_mm256_srai_epi16(a, 1), _mm256_srai_epi16(b, 1)),
      borrow);
}

/* split_bin for bins k .. k + 15 (all below half / 2). */
AVX2 static inline void split_run16_avx2(const int16_t* re, const int16_t* im,
                                  int16_t scale, const int16_t* w_re,
                                  const int16_t* w_im, size_t half, size_t k,
                                  int16_t* out_re, int16_t* out_im) {
  const __m256i factor = _mm256_set1_epi16(scale);
  const size_t mirror = half - k - 15; /* lowest of bins half - k - 15.. */
  const __m256i pk_r = _mm256_mulhrs_epi16(LOAD16(re + k), factor);
  const __m256i pk_i = _mm256_mulhrs_epi16(LOAD16(im + k), factor);
  const __m256i pnk_r =
      _mm256_mulhrs_epi16(reverse16(LOAD16(re + mirror)), factor);
  const __m256i pnk_i = _mm256_mulhrs_epi16(
      _mm256_sub_epi16(_mm256_setzero_si256(), reverse16(LOAD16(im + mirror))),
      factor);
  const __m256i sum_r = _mm256_add_epi16(pk_r, pnk_r);
  const __m256i sum_i = _mm256_add_epi16(pk_i, pnk_i);
  const __m256i diff_r = _mm256_sub_epi16(pk_r, pnk_r);
  const __m256i diff_i = _mm256_sub_epi16(pk_i, pnk_i);
  const twiddle_pairs w = row_pairs(w_re + k - 1, w_im + k - 1);
  __m256i tw_r, tw_i;
  cmul16(diff_r, diff_i, &w, &tw_r, &tw_i);
  STORE16(out_re + k, half_sum16(sum_r, tw_r));
  STORE16(out_im + k, half_sum16(sum_i, tw_i));
  STORE16(out_re + mirror, reverse16(half_difference16(sum_r, tw_r)));
  STORE16(out_im + mirror, reverse16(half_difference16(tw_i, sum_i)));
}
#endif

/* Bins per vector iteration of the split: 16 lanes of int16 in AVX2. */
#define SPLIT_RUN 16

#if MF_X86_KERNELS
/* The runs of split() (below), in one AVX2 function. */
AVX2 static void split_runs_avx2(const int16_t* re, const int16_t* im,
                                 size_t half, int16_t scale,
                                 const int16_t* w_re, const int16_t* w_im,
                                 int16_t* out_re, int16_t* out_im) {
  const size_t quarter = half / 2;
  for (size_t k = 1;; k += SPLIT_RUN) {
    if (k + SPLIT_RUN > quarter) k = quarter - SPLIT_RUN;
    split_run16_avx2(re, im, scale, w_re, w_im, half, k, out_re, out_im);
    if (k + SPLIT_RUN == quarter) break;
  }
}
#endif

/* Splits the packed transform of the even/odd samples into the spectrum of
 * the real frame: bins 0..half from p[k] and conj(p[half - k]). */
MF_NOINLINE MF_VECTOR_CLONES
static void split(const int16_t* restrict re,
                              const int16_t* restrict im, size_t half,
                              int16_t scale,
                              const int16_t* restrict w_re,
                              const int16_t* restrict w_im,
                              int16_t* restrict out_re,
                              int16_t* restrict out_im, int avx2) {
  (void)avx2; /* without the x86 kernels */
  const int16_t dc_re = scale_down(re[0], scale);
  const int16_t dc_im = scale_down(im[0], scale);
  out_re[0] = mf_wrap16(dc_re + dc_im);
  out_im[0] = 0;
  out_re[half] = mf_wrap16(dc_re - dc_im);
  out_im[half] = 0;
  /* Bin half / 2 (half >= 2) is its own mirror; the loop stops short of it
   * so that its forward and mirrored stores never meet, which lets it
   * vectorize. */
  const size_t quarter = half / 2;
  /* In whole vectors of SPLIT_RUN bins: a remainder would run bin by bin,
   * which costs more than the whole vector loop (127 bins at half = 256).
   * The last run is moved back to end at the quarter instead; the bins it
   * computes again get the same values. */
  size_t k = 1;
#if MF_X86_KERNELS
  if (avx2 && quarter > SPLIT_RUN) {
    split_runs_avx2(re, im, half, scale, w_re, w_im, out_re, out_im);
    k = quarter;
  }
#endif
  if (quarter > SPLIT_RUN && k < quarter) {
    for (;; k += SPLIT_RUN) {
      if (k + SPLIT_RUN > quarter) k = quarter - SPLIT_RUN;
      for (size_t j = k; j < k + SPLIT_RUN; ++j) {
        split_bin(re, im, scale, w_re, w_im, half, j, out_re, out_im);
      }
      if (k + SPLIT_RUN == quarter) break;
    }
    k = quarter;
  }
  for (; k < quarter; ++k) {
    split_bin(re, im, scale, w_re, w_im, half, k, out_re, out_im);
  }
  split_bin(re, im, scale, w_re, w_im, half, quarter, out_re, out_im);
}

static inline int16_t shifted_sample(int16_t sample, int shift) {
  return mf_wrap16((int32_t)((uint32_t)(int32_t)sample << shift));
}

/* Pairs n.. of load_frame(), and the zeros after them. */
static void load_frame_tail(const int16_t* frame, size_t frame_size,
                            int shift, size_t half, size_t n, int16_t* re,
                            int16_t* im) {
  const size_t pairs = frame_size / 2;
  for (; n < pairs; ++n) {
    re[n] = shifted_sample(frame[2 * n], shift);
    im[n] = shifted_sample(frame[2 * n + 1], shift);
  }
  size_t filled = pairs;
  if (frame_size % 2) {
    re[pairs] = shifted_sample(frame[2 * pairs], shift);
    im[pairs] = 0;
    ++filled;
  }
  memset(re + filled, 0, (half - filled) * sizeof(int16_t));
  memset(im + filled, 0, (half - filled) * sizeof(int16_t));
}

/* Loads frame[0..frame_size) shifted left by shift bits as a complex signal
 * of half the length, zero-padded: even samples are real parts, odd samples
 * imaginary parts. The shift goes through unsigned arithmetic: the device's
 * 16-bit wrap, without the undefined behaviour of shifting a negative int. */
MF_NOINLINE MF_VECTOR_CLONES
static void load_frame(
    const int16_t* restrict frame, size_t frame_size, int shift, size_t half,
    int16_t* restrict re, int16_t* restrict im) {
  const size_t pairs = frame_size / 2;
  for (size_t n = 0; n < pairs; ++n) {
    re[n] = shifted_sample(frame[2 * n], shift);
    im[n] = shifted_sample(frame[2 * n + 1], shift);
  }
  load_frame_tail(frame, frame_size, shift, half, pairs, re, im);
}

#if MF_X86_KERNELS
/* load_frame() 32 samples at a time: the shift wraps each 16-bit lane
 * (psllw), and the even and odd samples are gathered within each 128-bit
 * lane and then across them. */
AVX2 static void load_frame_avx2(const int16_t* frame, size_t frame_size,
                                 int shift, size_t half, int16_t* re,
                                 int16_t* im) {
  const __m128i count = _mm_cvtsi32_si128(shift);
  /* Per 128-bit lane: the four even samples, then the four odd ones. */
  const __m256i evens_first = _mm256_setr_epi8(
      0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15, 0, 1, 4, 5, 8, 9,
      12, 13, 2, 3, 6, 7, 10, 11, 14, 15);
  size_t n = 0;
  for (; 2 * n + 32 <= frame_size; n += 16) {
    const __m256i a = _mm256_shuffle_epi8(
        _mm256_sll_epi16(LOAD16(frame + 2 * n), count), evens_first);
    const __m256i b = _mm256_shuffle_epi8(
        _mm256_sll_epi16(LOAD16(frame + 2 * n + 16), count), evens_first);
    /* 64-bit quarters: a holds even, odd, even, odd samples of its 16. */
    STORE16(re + n, _mm256_permute4x64_epi64(_mm256_unpacklo_epi64(a, b),
                                             0xD8));
    STORE16(im + n, _mm256_permute4x64_epi64(_mm256_unpackhi_epi64(a, b),
                                             0xD8));
  }
  load_frame_tail(frame, frame_size, shift, half, n, re, im);
}

/* destination[16 i + j] = source[16 swap(j) + swap(i)]: the slot gather of a
 * 256-point transform with two natural stages, as one 16 x 16 transposition
 * whose source rows are read in swapped order and whose result rows are
 * stored in swapped order. The transposition is the usual three rounds of
 * interleaves (16-, 32-, 64-bit), which transpose 8 x 8 blocks within each
 * 128-bit lane, and a final exchange of lanes. */
__attribute__((target("avx2"))) static void transpose16(
    const int16_t* source, int16_t* destination) {
  __m256i row[16], a[16], b[16], column[16];
  for (size_t j = 0; j < 16; ++j) {
    row[j] = _mm256_loadu_si256(
        (const __m256i*)(const void*)(source + 16 * swap_digits4(j)));
  }
  /* Rows 8 g .. 8 g + 7 form block g. */
  for (size_t g = 0; g < 2; ++g) {
    __m256i* r = row + 8 * g;
    __m256i* pairs = a + 8 * g;
    __m256i* quads = b + 8 * g;
    for (size_t k = 0; k < 4; ++k) {
      /* Columns 0-3 (and 8-11) then 4-7 (12-15) of rows 2k, 2k + 1. */
      pairs[2 * k] = _mm256_unpacklo_epi16(r[2 * k], r[2 * k + 1]);
      pairs[2 * k + 1] = _mm256_unpackhi_epi16(r[2 * k], r[2 * k + 1]);
    }
    for (size_t k = 0; k < 2; ++k) {
      /* Rows 4k .. 4k + 3: columns 0-1, 2-3, 4-5, 6-7 (and 8 on). */
      const __m256i* p = pairs + 4 * k;
      quads[4 * k] = _mm256_unpacklo_epi32(p[0], p[2]);
      quads[4 * k + 1] = _mm256_unpackhi_epi32(p[0], p[2]);
      quads[4 * k + 2] = _mm256_unpacklo_epi32(p[1], p[3]);
      quads[4 * k + 3] = _mm256_unpackhi_epi32(p[1], p[3]);
    }
    for (size_t k = 0; k < 4; ++k) {
      /* Column 2k and 2k + 1 of the block's 8 rows: columns c and c + 8 in
       * the low and high lane. */
      column[8 * g + 2 * k] = _mm256_unpacklo_epi64(quads[k], quads[4 + k]);
      column[8 * g + 2 * k + 1] =
          _mm256_unpackhi_epi64(quads[k], quads[4 + k]);
    }
  }
  for (size_t c = 0; c < 8; ++c) {
    const __m256i low = _mm256_permute2x128_si256(column[c], column[8 + c],
                                                  0x20);
    const __m256i high = _mm256_permute2x128_si256(column[c], column[8 + c],
                                                   0x31);
    _mm256_storeu_si256((__m256i*)(void*)(destination + 16 * swap_digits4(c)),
                        low);
    _mm256_storeu_si256(
        (__m256i*)(void*)(destination + 16 * swap_digits4(c + 8)), high);
  }
}
#endif

void mf_fft_compute(mf_fft* fft, const int16_t* frame, size_t frame_size,
                    int input_shift, int16_t* out_re, int16_t* out_im) {
  const size_t half = fft->half;
  int16_t* re = fft->work_re;
  int16_t* im = fft->work_im;
#if MF_X86_KERNELS
  if (fft->avx2) {
    load_frame_avx2(frame, frame_size, input_shift, half, re, im);
  } else
#endif
  {
    load_frame(frame, frame_size, input_shift, half, re, im);
  }

  size_t s = 0;
  for (; s < fft->num_natural; ++s) {
    natural_stage(re, im, half, &fft->stages[s], fft->avx2);
  }
  /* To slot order, where the remaining stages and the output live. */
  int16_t* restrict slot_re = fft->slot_re;
  int16_t* restrict slot_im = fft->slot_im;
#if MF_X86_KERNELS
  if (fft->transpose16) {
    transpose16(re, slot_re);
    transpose16(im, slot_im);
  } else
#endif
  {
    const uint32_t* source = fft->slot_source;
    for (size_t slot = 0; slot < half; ++slot) {
      slot_re[slot] = re[source[slot]];
      slot_im[slot] = im[source[slot]];
    }
  }
  re = slot_re;
  im = slot_im;
  for (; s < fft->num_stages; ++s) {
    slot_stage(re, im, half, &fft->stages[s], fft->avx2);
  }

  split(re, im, half, fft->split_scale, fft->split_re, fft->split_im, out_re,
        out_im, fft->avx2);
}
