#include "single_precision.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

float mf_cosf(float x) { return (float)cos((double)x); }

static uint32_t bits_of(float x) {
  uint32_t bits;
  memcpy(&bits, &x, sizeof(bits));
  return bits;
}

static float float_of(uint32_t bits) {
  float x;
  memcpy(&x, &bits, sizeof(x));
  return x;
}

/* fdlibm's method: write 1 + x = 2^k * m with m in [sqrt(2)/2, sqrt(2)), so
 * that log1p(x) = k ln 2 + log(m); with f = m - 1 and s = f / (2 + f),
 * log(m) = 2 atanh(s) = f - (f^2/2 - s (f^2/2 + R(s^2))), R a degree-7
 * polynomial. ln 2 is split in two so that k ln 2 is exact in its high part,
 * and the rounding error of 1 + x is carried as a correction c. Every
 * operation below is a float operation in the same order as there. */
float mf_log1pf(float x) {
  /* ln 2 = LN2_HI + LN2_LO, LN2_HI with its low bits zero. */
  const float LN2_HI = float_of(0x3f317180u);
  const float LN2_LO = float_of(0x3717f7d1u);
  /* The polynomial's coefficients, from s^2 up. */
  const float LP1 = float_of(0x3f2aaaabu), LP2 = float_of(0x3ecccccdu),
              LP3 = float_of(0x3e924925u), LP4 = float_of(0x3e638e29u),
              LP5 = float_of(0x3e3a3325u), LP6 = float_of(0x3e1cd04fu),
              LP7 = float_of(0x3e178897u);
  const uint32_t bits = bits_of(x);
  /* Negative, NaN, or 2^53 and above: never passed by the filterbank. */
  if (bits >= 0x5a000000u) return (float)log1p((double)x);

  if (bits < 0x31000000u) {                  /* x < 2^-29 */
    if (bits < 0x24800000u) return x;        /* x < 2^-54 */
    return x - x * x * 0.5f;
  }
  int32_t k = 0;
  float f = x;
  float c = 0.0f;
  /* Nonzero unless m is within 2^-20 of 1; x itself counts as nonzero. */
  uint32_t mantissa = 1;
  if (bits >= 0x3ed413d7u) {                 /* x >= sqrt(2) - 1 */
    const float u = 1.0f + x;
    const uint32_t u_bits = bits_of(u);
    k = (int32_t)(u_bits >> 23) - 127;
    /* What rounding 1 + x to u lost, relative to u. */
    c = (k > 0) ? 1.0f - (u - x) : x - (u - 1.0f);
    c /= u;
    mantissa = u_bits & 0x007fffffu;
    float m;
    if (mantissa < 0x3504f7u) {              /* mantissa below sqrt(2) */
      m = float_of(mantissa | 0x3f800000u);
    } else {                                 /* halve it into range */
      k += 1;
      m = float_of(mantissa | 0x3f000000u);
      mantissa = (0x00800000u - mantissa) >> 2;
    }
    f = m - 1.0f;
  }
  const float half_f_squared = 0.5f * f * f;
  const float kf = (float)k;
  if (mantissa == 0) {                       /* |f| < 2^-20 */
    if (f == 0.0f) {
      if (k == 0) return 0.0f;
      c += kf * LN2_LO;
      return kf * LN2_HI + c;
    }
    const float r = half_f_squared * (1.0f - 0.66666666666666666f * f);
    if (k == 0) return f - r;
    return kf * LN2_HI - ((r - (kf * LN2_LO + c)) - f);
  }
  const float s = f / (2.0f + f);
  const float z = s * s;
  const float r =
      z * (LP1 + z * (LP2 + z * (LP3 + z * (LP4 + z * (LP5 + z * (LP6 + z * LP7))))));
  if (k == 0) return f - (half_f_squared - s * (half_f_squared + r));
  return kf * LN2_HI -
         ((half_f_squared - (s * (half_f_squared + r) + (kf * LN2_LO + c))) - f);
}
