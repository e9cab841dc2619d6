/* Natural log of each channel in fixed point, saturated to 16 bits. */
#ifndef MICROFRONTEND_LOG_SCALE_H_
#define MICROFRONTEND_LOG_SCALE_H_

#include <stddef.h>
#include <stdint.h>

/* output[i] = ln(signal[i] * 2^correction_bits) * 2^scale_shift when enabled,
 * else signal[i]; both saturated to 65535. avx2: take the AVX2 kernel (the
 * CPU has it: mf_cpu_has_avx2()); ignored in builds without it. */
void mf_log_scale_apply(int enable, int scale_shift, int correction_bits,
                        int avx2, const uint32_t* signal, size_t count,
                        uint16_t* output);

#endif
