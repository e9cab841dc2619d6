#include "loudness/loudness.h"

#include <stdint.h>

/* A cascade of at most this many sections runs in one pass; K-weighting has 2. */
#define LD_MAX_SECTIONS 8

int ld_filtered_energy(const float* audio, size_t num_samples,
                       const double* sections, size_t num_sections,
                       const size_t* edges, size_t num_edges, double* energy) {
  if ((!audio && num_samples) || !sections || num_sections == 0 ||
      num_sections > LD_MAX_SECTIONS || (!edges && num_edges) ||
      (!energy && num_edges)) {
    return -1;
  }
  for (size_t k = 0; k < num_edges; ++k) {
    if (edges[k] > num_samples || (k > 0 && edges[k] < edges[k - 1])) {
      return -1;
    }
  }
  for (size_t s = 0; s < num_sections; ++s) {
    if (sections[6 * s + 3] != 1.0) return -1;
  }

  /* Transposed direct form II, in double: each section's state is two values.
   * The sections run sample by sample in one loop, so their recurrences, each
   * bound by its own latency, overlap. */
  double b0[LD_MAX_SECTIONS], b1[LD_MAX_SECTIONS], b2[LD_MAX_SECTIONS];
  double a1[LD_MAX_SECTIONS], a2[LD_MAX_SECTIONS];
  double z1[LD_MAX_SECTIONS] = {0}, z2[LD_MAX_SECTIONS] = {0};
  for (size_t s = 0; s < num_sections; ++s) {
    b0[s] = sections[6 * s];
    b1[s] = sections[6 * s + 1];
    b2[s] = sections[6 * s + 2];
    a1[s] = sections[6 * s + 4];
    a2[s] = sections[6 * s + 5];
  }
  double sum = 0.0;
  size_t t = 0;
  for (size_t k = 0; k < num_edges; ++k) {
    for (; t < edges[k]; ++t) {
      double x = audio[t];
      for (size_t s = 0; s < num_sections; ++s) {
        const double y = b0[s] * x + z1[s];
        z1[s] = b1[s] * x - a1[s] * y + z2[s];
        z2[s] = b2[s] * x - a2[s] * y;
        x = y;
      }
      sum += x * x;
    }
    energy[k] = sum;
  }
  return 0;
}
