#include "log_scale.h"

#include "bits.h"

#if MF_X86_KERNELS
#include <immintrin.h>
#endif

#define LOG_SEGMENTS_LOG2 7
#define LOG_SCALE_LOG2 16
#define LOG_SCALE (1 << LOG_SCALE_LOG2)
/* ln(2) in Q16. */
#define LOG_COEFF 45426

/* log2(1 + x) - x at x = i / 128, in Q16, rounded to nearest: the correction
 * that turns a linear interpolation of the mantissa into log2. 16-bit
 * entries, so that one 32-bit vector gather reads an entry and the next. */
static const int16_t kLog2Correction[(1 << LOG_SEGMENTS_LOG2) + 1] = {
    0, 224, 442, 654, 861, 1063, 1259, 1450, 1636, 1817, 1992, 2163,
    2329, 2490, 2646, 2797, 2944, 3087, 3224, 3358, 3487, 3611, 3732, 3848,
    3960, 4068, 4172, 4272, 4368, 4460, 4549, 4633, 4714, 4791, 4864, 4934,
    5001, 5063, 5123, 5178, 5231, 5280, 5326, 5368, 5408, 5444, 5477, 5507,
    5533, 5557, 5578, 5595, 5610, 5622, 5631, 5637, 5640, 5641, 5638, 5633,
    5626, 5615, 5602, 5586, 5568, 5547, 5524, 5498, 5470, 5439, 5406, 5370,
    5332, 5291, 5249, 5203, 5156, 5106, 5054, 5000, 4944, 4885, 4825, 4762,
    4697, 4630, 4561, 4490, 4416, 4341, 4264, 4184, 4103, 4020, 3935, 3848,
    3759, 3668, 3575, 3481, 3384, 3286, 3186, 3084, 2981, 2875, 2768, 2659,
    2549, 2437, 2323, 2207, 2090, 1971, 1851, 1729, 1605, 1480, 1353, 1224,
    1094, 963, 830, 695, 559, 421, 282, 142, 0,
};

/* Fractional part of log2(x) in Q16, given the integer part. Both shifts
 * are computed and one picked, so that the channel loop has no branch. */
static inline uint32_t log2_fraction(uint32_t x, uint32_t log2x) {
  const uint32_t frac = x - ((uint32_t)1 << log2x);
  const uint32_t up =
      frac << (log2x < LOG_SCALE_LOG2 ? LOG_SCALE_LOG2 - log2x : 0);
  const uint32_t down =
      frac >> (log2x > LOG_SCALE_LOG2 ? log2x - LOG_SCALE_LOG2 : 0);
  const int32_t scaled = (int32_t)(log2x < LOG_SCALE_LOG2 ? up : down);
  const uint32_t segment =
      (uint32_t)scaled >> (LOG_SCALE_LOG2 - LOG_SEGMENTS_LOG2);
  const uint32_t segment_unit = LOG_SCALE >> LOG_SEGMENTS_LOG2;
  const int32_t c0 = kLog2Correction[segment];
  const int32_t c1 = kLog2Correction[segment + 1];
  const int32_t segment_base = (int32_t)(segment_unit * segment);
  const int32_t interpolated =
      ((c1 - c0) * (scaled - segment_base)) >> LOG_SCALE_LOG2;
  return (uint32_t)(scaled + c0 + interpolated);
}

/* ln(x) * 2^scale_shift, rounded, for x > 1. */
static inline uint32_t scaled_log(uint32_t x, int scale_shift) {
  const uint32_t integer = (uint32_t)mf_msb32_by_float(x) - 1;
  const uint32_t fraction = log2_fraction(x, integer);
  const uint32_t log2 = (integer << LOG_SCALE_LOG2) + fraction;
  const uint32_t round = LOG_SCALE / 2;
  /* LOG_COEFF * log2 needs 37 bits; split at bit 16, each product fits 32:
   * (C (h 2^16 + l) + round) >> 16 = C h + ((C l + round) >> 16). */
  const uint32_t loge =
      LOG_COEFF * (log2 >> LOG_SCALE_LOG2) +
      ((LOG_COEFF * (log2 & (LOG_SCALE - 1)) + round) >> LOG_SCALE_LOG2);
  return ((loge << scale_shift) + round) >> LOG_SCALE_LOG2;
}

#if MF_X86_KERNELS
/* scaled_log() of 8 values above 1, in AVX2: shifts by lane (vpsllvd, whose
 * counts past 31 give 0, so that the shift up and the shift down can both be
 * taken and or-ed), the table read by gathers. */
__attribute__((target("avx2"))) static inline __m256i scaled_log8(
    __m256i x, __m128i scale_shift) {
  /* The highest set bit from the float's exponent, as mf_msb32_by_float. */
  const __m256i high = _mm256_srli_epi32(x, 24);
  const __m256i shift = _mm256_andnot_si256(
      _mm256_cmpeq_epi32(high, _mm256_setzero_si256()), _mm256_set1_epi32(8));
  const __m256 exact = _mm256_cvtepi32_ps(_mm256_srlv_epi32(x, shift));
  const __m256i integer = _mm256_add_epi32(
      _mm256_sub_epi32(_mm256_srli_epi32(_mm256_castps_si256(exact), 23),
                       _mm256_set1_epi32(127)),
      shift);
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i frac = _mm256_sub_epi32(x, _mm256_sllv_epi32(one, integer));
  const __m256i scale_log2 = _mm256_set1_epi32(LOG_SCALE_LOG2);
  const __m256i scaled = _mm256_or_si256(
      _mm256_sllv_epi32(frac, _mm256_sub_epi32(scale_log2, integer)),
      _mm256_srlv_epi32(frac, _mm256_sub_epi32(integer, scale_log2)));
  const __m256i segment =
      _mm256_srli_epi32(scaled, LOG_SCALE_LOG2 - LOG_SEGMENTS_LOG2);
  /* Entries segment and segment + 1 in the low and high halves. */
  const __m256i pair = _mm256_i32gather_epi32(
      (const int*)(const void*)kLog2Correction, segment, 2);
  const __m256i c0 = _mm256_and_si256(pair, _mm256_set1_epi32(0xFFFF));
  const __m256i c1 = _mm256_srli_epi32(pair, 16);
  const __m256i segment_base = _mm256_slli_epi32(
      segment, LOG_SCALE_LOG2 - LOG_SEGMENTS_LOG2);
  const __m256i interpolated = _mm256_srai_epi32(
      _mm256_mullo_epi32(_mm256_sub_epi32(c1, c0),
                         _mm256_sub_epi32(scaled, segment_base)),
      LOG_SCALE_LOG2);
  const __m256i fraction =
      _mm256_add_epi32(_mm256_add_epi32(scaled, c0), interpolated);
  const __m256i log2 = _mm256_add_epi32(
      _mm256_slli_epi32(integer, LOG_SCALE_LOG2), fraction);
  const __m256i coefficient = _mm256_set1_epi32(LOG_COEFF);
  const __m256i round = _mm256_set1_epi32(LOG_SCALE / 2);
  const __m256i loge = _mm256_add_epi32(
      _mm256_mullo_epi32(coefficient, _mm256_srli_epi32(log2, LOG_SCALE_LOG2)),
      _mm256_srli_epi32(
          _mm256_add_epi32(
              _mm256_mullo_epi32(coefficient,
                                 _mm256_and_si256(log2, _mm256_set1_epi32(
                                                            LOG_SCALE - 1))),
              round),
          LOG_SCALE_LOG2));
  return _mm256_srli_epi32(
      _mm256_add_epi32(_mm256_sll_epi32(loge, scale_shift), round),
      LOG_SCALE_LOG2);
}

/* The enabled log scale, 8 channels at a time. */
__attribute__((target("avx2"))) static void log_scale_avx2(
    int scale_shift, int left, int right, const uint32_t* signal,
    size_t count, uint16_t* output) {
  const __m128i left_count = _mm_cvtsi32_si128(left);
  const __m128i right_count = _mm_cvtsi32_si128(right);
  const __m128i scale_count = _mm_cvtsi32_si128(scale_shift);
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256i value = _mm256_sll_epi32(
        _mm256_srl_epi32(
            _mm256_loadu_si256((const __m256i*)(const void*)(signal + i)),
            right_count),
        left_count);
    /* 0 and 1 (no bit above the lowest) give 0; the log of 2 is taken for
     * them and discarded. */
    const __m256i small = _mm256_cmpeq_epi32(
        _mm256_andnot_si256(_mm256_set1_epi32(1), value),
        _mm256_setzero_si256());
    const __m256i x = _mm256_max_epu32(value, _mm256_set1_epi32(2));
    const __m256i result = _mm256_andnot_si256(
        small, _mm256_min_epu32(scaled_log8(x, scale_count),
                                _mm256_set1_epi32(0xFFFF)));
    /* To 16 bits: packus works within 128-bit lanes, so the halves are
     * brought together first. */
    const __m128i packed = _mm_packus_epi32(
        _mm256_castsi256_si128(result), _mm256_extracti128_si256(result, 1));
    _mm_storeu_si128((__m128i*)(void*)(output + i), packed);
  }
  for (; i < count; ++i) {
    const uint32_t value = (signal[i] >> right) << left;
    const uint32_t result = value > 1 ? scaled_log(value, scale_shift) : 0;
    output[i] = (uint16_t)(result < 0xFFFF ? result : 0xFFFF);
  }
}
#endif

MF_VECTOR_CLONES void mf_log_scale_apply(int enable, int scale_shift,
                                         int correction_bits, int avx2,
                                         const uint32_t* restrict signal,
                                         size_t count,
                                         uint16_t* restrict output) {
  (void)avx2; /* without the x86 kernels */
  if (!enable) {
    for (size_t i = 0; i < count; ++i) {
      output[i] = (uint16_t)(signal[i] < 0xFFFF ? signal[i] : 0xFFFF);
    }
    return;
  }
  const int left = correction_bits > 0 ? correction_bits : 0;
  const int right = correction_bits < 0 ? -correction_bits : 0;
#if MF_X86_KERNELS
  if (avx2) {
    log_scale_avx2(scale_shift, left, right, signal, count, output);
    return;
  }
#endif
  for (size_t i = 0; i < count; ++i) {
    const uint32_t value = (signal[i] >> right) << left;
    /* Evaluated for every value, 0 and 1 included (where it is harmless),
     * and then discarded for them: no branch in the loop. */
    const uint32_t logarithm = scaled_log(value > 1 ? value : 2, scale_shift);
    const uint32_t result = value > 1 ? logarithm : 0;
    output[i] = (uint16_t)(result < 0xFFFF ? result : 0xFFFF);
  }
}
