#include "log_scale.h"

#include "bits.h"

#define LOG_SEGMENTS_LOG2 7
#define LOG_SCALE_LOG2 16
#define LOG_SCALE (1 << LOG_SCALE_LOG2)
/* ln(2) in Q16. */
#define LOG_COEFF 45426

/* log2(1 + x) - x at x = i / 128, in Q16, rounded to nearest: the correction
 * that turns a linear interpolation of the mantissa into log2. 32-bit entries,
 * so that the lookups can be vector gathers. */
static const int32_t kLog2Correction[(1 << LOG_SEGMENTS_LOG2) + 1] = {
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

MF_VECTOR_CLONES void mf_log_scale_apply(int enable, int scale_shift,
                                         int correction_bits,
                                         const uint32_t* restrict signal,
                                         size_t count,
                                         uint16_t* restrict output) {
  if (!enable) {
    for (size_t i = 0; i < count; ++i) {
      output[i] = (uint16_t)(signal[i] < 0xFFFF ? signal[i] : 0xFFFF);
    }
    return;
  }
  const int left = correction_bits > 0 ? correction_bits : 0;
  const int right = correction_bits < 0 ? -correction_bits : 0;
  for (size_t i = 0; i < count; ++i) {
    const uint32_t value = (signal[i] >> right) << left;
    /* Evaluated for every value, 0 and 1 included (where it is harmless),
     * and then discarded for them: no branch in the loop. */
    const uint32_t logarithm = scaled_log(value > 1 ? value : 2, scale_shift);
    const uint32_t result = value > 1 ? logarithm : 0;
    output[i] = (uint16_t)(result < 0xFFFF ? result : 0xFFFF);
  }
}
