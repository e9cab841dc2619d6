/*
 * loudness: the filtering and energy sums behind an ITU-R BS.1770 loudness
 * measurement, in one pass over the audio.
 *
 * The caller designs the K-weighting filter and turns the energies into gated
 * block loudness (a few values per clip); this does the per-sample work.
 *
 * Plain C99, no globals, never prints; checks its arguments and is safe on any
 * values in its arrays (non-finite ones give non-finite energies).
 */
#ifndef LOUDNESS_LOUDNESS_H_
#define LOUDNESS_LOUDNESS_H_

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Runs audio through a cascade of num_sections biquads, each given as
 * (b0, b1, b2, a0, a1, a2) with a0 == 1, from rest, and writes to energy[k]
 * the sum of the squared output over samples [0, edges[k]), for num_edges
 * edges in non-decreasing order, none above num_samples. Returns 0, or -1 for
 * invalid arguments (then energy is left alone). */
int ld_filtered_energy(const float* audio, size_t num_samples,
                       const double* sections, size_t num_sections,
                       const size_t* edges, size_t num_edges, double* energy);

#ifdef __cplusplus
}
#endif

#endif
