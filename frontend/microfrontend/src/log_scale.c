#include "log_scale.h"

#include "bits.h"

#define LOG_SEGMENTS_LOG2 7
#define LOG_SCALE_LOG2 16
#define LOG_SCALE (1 << LOG_SCALE_LOG2)
/* ln(2) in Q16. */
#define LOG_COEFF 45426

/* log2(1 + x) - x at x = i / 128, in Q16, rounded to nearest: the correction
 * that turns a linear interpolation of the mantissa into log2. */
static const uint16_t kLog2Correction[(1 << LOG_SEGMENTS_LOG2) + 1] = {
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

/* Fractional part of log2(x) in Q16, given the integer part. */
static uint32_t log2_fraction(uint32_t x, uint32_t log2x) {
  int32_t frac = (int32_t)(x - ((uint32_t)1 << log2x));
  if (log2x < LOG_SCALE_LOG2) {
    frac = (int32_t)((uint32_t)frac << (LOG_SCALE_LOG2 - log2x));
  } else {
    frac >>= log2x - LOG_SCALE_LOG2;
  }
  const uint32_t segment = (uint32_t)frac >> (LOG_SCALE_LOG2 - LOG_SEGMENTS_LOG2);
  const uint32_t segment_unit = LOG_SCALE >> LOG_SEGMENTS_LOG2;
  const int32_t c0 = kLog2Correction[segment];
  const int32_t c1 = kLog2Correction[segment + 1];
  const int32_t segment_base = (int32_t)(segment_unit * segment);
  const int32_t interpolated = ((c1 - c0) * (frac - segment_base)) >> LOG_SCALE_LOG2;
  return (uint32_t)(frac + c0 + interpolated);
}

/* ln(x) * 2^scale_shift, rounded. */
static uint32_t scaled_log(uint32_t x, int scale_shift) {
  const uint32_t integer = (uint32_t)mf_msb32(x) - 1;
  const uint32_t fraction = log2_fraction(x, integer);
  const uint32_t log2 = (integer << LOG_SCALE_LOG2) + fraction;
  const uint32_t round = LOG_SCALE / 2;
  const uint32_t loge =
      (uint32_t)(((uint64_t)LOG_COEFF * log2 + round) >> LOG_SCALE_LOG2);
  return ((loge << scale_shift) + round) >> LOG_SCALE_LOG2;
}

void mf_log_scale_apply(int enable, int scale_shift, int correction_bits,
                        const uint32_t* signal, size_t count,
                        uint16_t* output) {
  for (size_t i = 0; i < count; ++i) {
    uint32_t value = signal[i];
    if (enable) {
      if (correction_bits < 0) {
        value >>= -correction_bits;
      } else {
        value <<= correction_bits;
      }
      value = (value > 1) ? scaled_log(value, scale_shift) : 0;
    }
    output[i] = (uint16_t)(value < 0xFFFF ? value : 0xFFFF);
  }
}
