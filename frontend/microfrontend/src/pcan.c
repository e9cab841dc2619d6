#include "pcan.h"

#include <math.h>

#include "bits.h"

#if MF_X86_KERNELS
#include <immintrin.h>
#endif

/* gain(x) = 2^gain_bits (x / 2^noise_bits + offset)^-strength, in float as on
 * the device, saturated to int16. */
static int16_t gain_of(float strength, float offset, int gain_bits,
                       int noise_bits, uint32_t x) {
  const float x_as_float = (float)x / (float)((uint32_t)1 << noise_bits);
  const float gain = (float)((uint32_t)1 << gain_bits) *
                     powf(x_as_float + offset, -strength);
  if (gain > 32767) return 32767;
  return (int16_t)(gain + 0.5f);
}

int mf_pcan_populate(mf_pcan* pcan, size_t num_channels, float strength,
                     float offset, int gain_bits, int noise_bits,
                     int correction_bits) {
  pcan->num_channels = num_channels;
  pcan->snr_shift = gain_bits - correction_bits - MF_PCAN_SNR_BITS;
  if (noise_bits < 0 || noise_bits > 31 || gain_bits < 0 || gain_bits > 31 ||
      pcan->snr_shift < 0 || pcan->snr_shift > 63) {
    return 0;
  }
  int16_t* table = pcan->table;
  table[0] = gain_of(strength, offset, gain_bits, noise_bits, 0);
  table[1] = gain_of(strength, offset, gain_bits, noise_bits, 1);
  /* Octave [2^(n-1), 2^n) is fitted by a quadratic through its start, middle
   * and end; its three coefficients sit at 4 n - 6. */
  for (int n = 2; n <= MF_PCAN_TABLE_BITS; ++n) {
    const uint32_t x0 = (uint32_t)1 << (n - 1);
    const uint32_t x1 = x0 + (x0 >> 1);
    const uint32_t x2 = (n == MF_PCAN_TABLE_BITS) ? x0 + (x0 - 1) : 2 * x0;
    const int32_t y0 = gain_of(strength, offset, gain_bits, noise_bits, x0);
    const int32_t y1 = gain_of(strength, offset, gain_bits, noise_bits, x1);
    const int32_t y2 = gain_of(strength, offset, gain_bits, noise_bits, x2);
    const int32_t a1 = 4 * (y1 - y0) - (y2 - y0);
    const int32_t a2 = (y2 - y0) - a1;
    table[4 * n - 6] = (int16_t)y0;
    table[4 * n - 5] = mf_wrap16(a1);
    table[4 * n - 4] = mf_wrap16(a2);
    if (4 * n - 3 < MF_PCAN_TABLE_SIZE) table[4 * n - 3] = 0;
  }
  for (int octave = 0; octave <= MF_PCAN_TABLE_BITS; ++octave) {
    if (octave < 2) {
      pcan->octave_value[octave] = table[octave];
      pcan->octave_slope[octave] = 0;
      pcan->octave_curvature[octave] = 0;
      continue;
    }
    const int16_t* coefficients = table + 4 * octave - 6;
    pcan->octave_value[octave] = coefficients[0];
    pcan->octave_slope[octave] = coefficients[1];
    pcan->octave_curvature[octave] = coefficients[2];
  }
  pcan->avx2 = mf_cpu_has_avx2();
  return 1;
}

/* The table's gain at x. Branch-free, so that the channel loop vectorizes:
 * x = 0 and 1 are octaves whose slope and curvature are zero; x = 2 is the
 * start of octave 2, where the fit equals the table's entry. */
static inline int16_t table_gain(const mf_pcan* restrict pcan, uint32_t x) {
  const int32_t octave = mf_msb32_by_float(x);
  /* The 10 bits below the leading one, as the position inside the octave:
   * x << (11 - octave) or x >> (octave - 11), each shift kept in range. */
  const uint32_t up = x << (octave < 11 ? 11 - octave : 0);
  const uint32_t down = x >> (octave > 11 ? octave - 11 : 0);
  const int32_t frac = (int32_t)((octave < 11 ? up : down) & 0x3FF);
  int32_t result = (pcan->octave_curvature[octave] * frac) >> 5;
  result += (int32_t)((uint32_t)pcan->octave_slope[octave] << 5);
  result *= frac;
  result = (result + (1 << 14)) >> 15;
  result += pcan->octave_value[octave];
  return mf_wrap16(result);
}

/* Compresses the Q12 signal-to-noise ratio to Q6: quadratic below 2, linear
 * above. Both are computed and one picked, without a branch. */
static inline uint32_t shrink(uint32_t snr) {
  const uint32_t small = snr < (2u << MF_PCAN_SNR_BITS) ? snr : 0;
  const uint32_t quadratic =
      (small * small) >> (2 + 2 * MF_PCAN_SNR_BITS - MF_PCAN_OUTPUT_BITS);
  const uint32_t linear = (snr >> (MF_PCAN_SNR_BITS - MF_PCAN_OUTPUT_BITS)) -
                          (1u << MF_PCAN_OUTPUT_BITS);
  return snr < (2u << MF_PCAN_SNR_BITS) ? quadratic : linear;
}

#if MF_X86_KERNELS
#define AVX2 __attribute__((target("avx2")))

/* The octave table in registers: each octave's value and slope packed in
 * 32 bits (low and high half), and its curvature, octaves 0-7, 8-15, 16-23,
 * 24-31; octave 32 apart. */
typedef struct {
  __m256i value_slope[4], curvature[4];
  __m256i value_slope_32, curvature_32;
} octave_registers;

AVX2 static octave_registers load_octaves(const mf_pcan* pcan) {
  octave_registers octaves;
  for (size_t r = 0; r < 4; ++r) {
    const __m256i value = _mm256_loadu_si256(
        (const __m256i*)(const void*)(pcan->octave_value + 8 * r));
    const __m256i slope = _mm256_loadu_si256(
        (const __m256i*)(const void*)(pcan->octave_slope + 8 * r));
    octaves.value_slope[r] = _mm256_blend_epi16(
        value, _mm256_slli_epi32(slope, 16), 0xAA);
    octaves.curvature[r] = _mm256_loadu_si256(
        (const __m256i*)(const void*)(pcan->octave_curvature + 8 * r));
  }
  octaves.value_slope_32 = _mm256_set1_epi32(
      (int32_t)(((uint32_t)pcan->octave_value[32] & 0xFFFF) |
                (uint32_t)pcan->octave_slope[32] << 16));
  octaves.curvature_32 = _mm256_set1_epi32(pcan->octave_curvature[32]);
  return octaves;
}

/* table[octave] for 8 lanes from the 4 registers of a table: vpermd picks
 * by the low 3 bits, blends by bits 3 and 4 (moved to the sign, which
 * blendvps reads), and octave 32 by comparison. Faster than gathers. */
AVX2 static inline __m256i look_up(const __m256i* table, __m256i table_32,
                                   __m256i octave, __m256 bit3, __m256 bit4,
                                   __m256 is_32) {
  const __m256 low = _mm256_blendv_ps(
      _mm256_castsi256_ps(_mm256_permutevar8x32_epi32(table[0], octave)),
      _mm256_castsi256_ps(_mm256_permutevar8x32_epi32(table[1], octave)),
      bit3);
  const __m256 high = _mm256_blendv_ps(
      _mm256_castsi256_ps(_mm256_permutevar8x32_epi32(table[2], octave)),
      _mm256_castsi256_ps(_mm256_permutevar8x32_epi32(table[3], octave)),
      bit3);
  return _mm256_castps_si256(_mm256_blendv_ps(
      _mm256_blendv_ps(low, high, bit4), _mm256_castsi256_ps(table_32),
      is_32));
}

/* table_gain() of 8 noise estimates: shifts by lane (vpsllvd and vpsrlvd,
 * whose counts past 31 give 0, so that both can be taken and or-ed), the
 * octave's coefficients looked up in registers, the 16-bit wrap
 * sign-extended. */
AVX2 static inline __m256i table_gain8(const octave_registers* octaves,
                                       __m256i x) {
  /* mf_msb32_by_float: the float's exponent, of x >> 8 from 2^24 on. */
  const __m256i shift = _mm256_andnot_si256(
      _mm256_cmpeq_epi32(_mm256_srli_epi32(x, 24), _mm256_setzero_si256()),
      _mm256_set1_epi32(8));
  const __m256 exact = _mm256_cvtepi32_ps(_mm256_srlv_epi32(x, shift));
  const __m256i position =
      _mm256_sub_epi32(_mm256_srli_epi32(_mm256_castps_si256(exact), 23),
                       _mm256_set1_epi32(126));
  const __m256i octave = _mm256_add_epi32(
      _mm256_max_epi32(position, _mm256_setzero_si256()), shift);
  const __m256i eleven = _mm256_set1_epi32(11);
  const __m256i frac = _mm256_and_si256(
      _mm256_or_si256(
          _mm256_sllv_epi32(x, _mm256_sub_epi32(eleven, octave)),
          _mm256_srlv_epi32(x, _mm256_sub_epi32(octave, eleven))),
      _mm256_set1_epi32(0x3FF));
  const __m256 bit3 = _mm256_castsi256_ps(_mm256_slli_epi32(octave, 28));
  const __m256 bit4 = _mm256_castsi256_ps(_mm256_slli_epi32(octave, 27));
  const __m256 is_32 = _mm256_castsi256_ps(
      _mm256_cmpeq_epi32(octave, _mm256_set1_epi32(32)));
  const __m256i value_slope =
      look_up(octaves->value_slope, octaves->value_slope_32, octave, bit3,
              bit4, is_32);
  const __m256i curvature = look_up(octaves->curvature,
                                    octaves->curvature_32, octave, bit3,
                                    bit4, is_32);
  const __m256i value =
      _mm256_srai_epi32(_mm256_slli_epi32(value_slope, 16), 16);
  const __m256i slope = _mm256_srai_epi32(value_slope, 16);
  __m256i result = _mm256_srai_epi32(_mm256_mullo_epi32(curvature, frac), 5);
  result = _mm256_add_epi32(result, _mm256_slli_epi32(slope, 5));
  result = _mm256_mullo_epi32(result, frac);
  result = _mm256_srai_epi32(
      _mm256_add_epi32(result, _mm256_set1_epi32(1 << 14)), 15);
  result = _mm256_add_epi32(result, value);
  return _mm256_srai_epi32(_mm256_slli_epi32(result, 16), 16);
}

/* mf_pcan_apply() 8 channels at a time. */
AVX2 static void pcan_avx2(const mf_pcan* pcan, const uint32_t* noise_estimate,
                           uint32_t* signal) {
  const __m128i snr_shift = _mm_cvtsi32_si128(pcan->snr_shift);
  const size_t channels = pcan->num_channels;
  const octave_registers octaves = load_octaves(pcan);
  size_t i = 0;
  for (; i + 8 <= channels; i += 8) {
    const __m256i gain = table_gain8(
        &octaves,
        _mm256_loadu_si256((const __m256i*)(const void*)(noise_estimate + i)));
    const __m256i x =
        _mm256_loadu_si256((const __m256i*)(const void*)(signal + i));
    /* The 64-bit products of the even lanes, then of the odd ones, shifted;
     * their low halves are the 32-bit results. */
    const __m256i even = _mm256_srl_epi64(_mm256_mul_epu32(x, gain), snr_shift);
    const __m256i odd = _mm256_srl_epi64(
        _mm256_mul_epu32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(gain, 32)),
        snr_shift);
    const __m256i snr =
        _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
    /* shrink(): quadratic below 2 << MF_PCAN_SNR_BITS, linear above. */
    const __m256i small = _mm256_cmpeq_epi32(
        _mm256_srli_epi32(snr, MF_PCAN_SNR_BITS + 1), _mm256_setzero_si256());
    const __m256i quadratic =
        _mm256_srli_epi32(_mm256_mullo_epi32(snr, snr),
                          2 + 2 * MF_PCAN_SNR_BITS - MF_PCAN_OUTPUT_BITS);
    const __m256i linear = _mm256_sub_epi32(
        _mm256_srli_epi32(snr, MF_PCAN_SNR_BITS - MF_PCAN_OUTPUT_BITS),
        _mm256_set1_epi32(1 << MF_PCAN_OUTPUT_BITS));
    _mm256_storeu_si256((__m256i*)(void*)(signal + i),
                        _mm256_blendv_epi8(linear, quadratic, small));
  }
  for (; i < channels; ++i) {
    const uint32_t gain =
        (uint32_t)(int32_t)table_gain(pcan, noise_estimate[i]);
    signal[i] = shrink(
        (uint32_t)(((uint64_t)signal[i] * gain) >> pcan->snr_shift));
  }
}
#endif

MF_VECTOR_CLONES void mf_pcan_apply(const mf_pcan* restrict pcan,
                                    const uint32_t* restrict noise_estimate,
                                    uint32_t* restrict signal) {
#if MF_X86_KERNELS
  if (pcan->avx2) {
    pcan_avx2(pcan, noise_estimate, signal);
    return;
  }
#endif
  for (size_t i = 0; i < pcan->num_channels; ++i) {
    /* A negative table value widens with its sign, as it does on device. */
    const uint32_t gain =
        (uint32_t)(int32_t)table_gain(pcan, noise_estimate[i]);
    const uint32_t snr =
        (uint32_t)(((uint64_t)signal[i] * gain) >> pcan->snr_shift);
    signal[i] = shrink(snr);
  }
}
