#include "phase_vocoder/phase_vocoder.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bits.h"

#define PV_PI 3.14159265358979323846

/* Audio quality needs phases to about 1e-6 rad, far from libm's last bit, and
 * libm's atan2f and sincosf do not vectorize; these polynomials (minimax fits,
 * errors below) do, branch-free, with no float-to-int conversion to go wrong
 * on non-finite input. */

/* atan2(y, x) within 2.5e-7 rad; 0 for (0, 0). */
static inline float fast_atan2(float y, float x) {
  const float ax = fabsf(x), ay = fabsf(y);
  const float big = ax > ay ? ax : ay, small = ax > ay ? ay : ax;
  const float t = small / (big > 0.0f ? big : 1.0f);
  const float s = t * t;
  float r = 6.811792605e-03f;
  r = r * s - 3.360421914e-02f;
  r = r * s + 7.962367187e-02f;
  r = r * s - 1.323334217e-01f;
  r = r * s + 1.980781563e-01f;
  r = r * s - 3.331736807e-01f;
  r = r * s + 9.999961116e-01f;
  r *= t;
  r = ay > ax ? (float)(PV_PI / 2) - r : r;
  r = x < 0.0f ? (float)PV_PI - r : r;
  return y < 0.0f ? -r : r;
}

/* sin and cos of x within 3e-8 for |x| up to a few thousand radians. */
static inline void fast_sincos(float x, float* sine, float* cosine) {
  /* x = q * pi/2 + r with |r| <= pi/4; pi/2 split in two for an exact-ish r. */
  const float q = rintf(x * (float)(2.0 / PV_PI));
  const float r = (x - q * 1.5707963705062866f) - q * -4.371139000186243e-08f;
  const float r2 = r * r;
  float s = -1.946211721e-04f;
  s = s * r2 + 8.331584609e-03f;
  s = s * r2 - 1.666663675e-01f;
  s = s * r2 + 9.999999862e-01f;
  s *= r;
  float c = -1.358592053e-03f;
  c = c * r2 + 4.165502818e-02f;
  c = c * r2 - 4.999985674e-01f;
  c = c * r2 + 9.999999725e-01f;
  /* Rotate by the quadrant: q mod 4 in {-2, ..., 2}, kept in float. */
  const float quadrant = q - 4.0f * rintf(q * 0.25f);
  const float sin_r = s, cos_r = c;
  const int half_turn = quadrant == 2.0f || quadrant == -2.0f;
  s = quadrant == 1.0f ? cos_r : quadrant == -1.0f ? -cos_r
      : half_turn ? -sin_r : sin_r;
  c = quadrant == 1.0f ? -sin_r : quadrant == -1.0f ? sin_r
      : half_turn ? -cos_r : cos_r;
  *sine = s;
  *cosine = c;
}

/* x wrapped into [-pi, pi]. */
static inline float wrap_phase(float x) {
  return x - (float)(2 * PV_PI) * rintf(x * (float)(0.5 / PV_PI));
}

/* The same in double, for the tables: an advance of hundreds of radians per
 * hop would lose its fraction in float. */
static double wrap_phase_double(double x) {
  return x - 2 * PV_PI * nearbyint(x / (2 * PV_PI));
}

size_t pv_num_frames(size_t num_samples, size_t hop_length) {
  if (hop_length == 0) return 0;
  return 1 + num_samples / hop_length + (num_samples % hop_length != 0);
}

static int framing_is_valid(size_t frame_length, size_t hop_length) {
  return frame_length >= 2 && frame_length % 2 == 0 && hop_length > 0 &&
         frame_length % hop_length == 0;
}

/* The frames' span [start, end) of sample indices i with 0 <= k * hop + i -
 * half < num_samples. */
static void frame_span(size_t k, size_t frame_length, size_t hop_length,
                       size_t num_samples, size_t* start, size_t* end) {
  const size_t half = frame_length / 2;
  const size_t first = k * hop_length; /* padded index of i = 0 */
  *start = first < half ? half - first : 0;
  const size_t last = num_samples + half; /* padded end of the audio */
  *end = last <= first ? 0 : last - first < frame_length ? last - first
                                                          : frame_length;
  if (*end < *start) *end = *start;
}

MF_VECTOR_CLONES
pv_status pv_analysis_frames(const float* audio, size_t num_samples,
                             const float* window, size_t frame_length,
                             size_t hop_length, float* frames,
                             size_t num_frames) {
  if ((!audio && num_samples) || !window || !frames ||
      !framing_is_valid(frame_length, hop_length)) {
    return PV_ERROR_INVALID_ARGUMENT;
  }
  const size_t half = frame_length / 2;
  for (size_t k = 0; k < num_frames; ++k) {
    float* frame = frames + k * frame_length;
    size_t start, end;
    frame_span(k, frame_length, hop_length, num_samples, &start, &end);
    for (size_t i = 0; i < start; ++i) frame[i] = 0.0f;
    if (end > start) {
      const float* source = audio + (k * hop_length + start - half);
      for (size_t i = start; i < end; ++i) {
        frame[i] = window[i] * source[i - start];
      }
    }
    for (size_t i = end; i < frame_length; ++i) frame[i] = 0.0f;
  }
  return PV_OK;
}

MF_VECTOR_CLONES
pv_status pv_overlap_add(const float* frames, size_t num_frames,
                         size_t frame_length, size_t hop_length,
                         const float* window, float* audio,
                         size_t num_samples) {
  if ((!frames && num_frames) || !window || (!audio && num_samples) ||
      !framing_is_valid(frame_length, hop_length)) {
    return PV_ERROR_INVALID_ARGUMENT;
  }
  float* power = calloc(num_samples ? num_samples : 1, sizeof(float));
  if (!power) return PV_ERROR_OUT_OF_MEMORY;
  if (num_samples) memset(audio, 0, num_samples * sizeof(float));
  const size_t half = frame_length / 2;
  for (size_t k = 0; k < num_frames; ++k) {
    const float* frame = frames + k * frame_length;
    size_t start, end;
    frame_span(k, frame_length, hop_length, num_samples, &start, &end);
    if (end <= start) continue;
    float* sum = audio + (k * hop_length + start - half);
    float* norm = power + (k * hop_length + start - half);
    for (size_t i = start; i < end; ++i) {
      sum[i - start] += window[i] * frame[i];
      norm[i - start] += window[i] * window[i];
    }
  }
  for (size_t t = 0; t < num_samples; ++t) {
    audio[t] /= power[t] > 1e-3f ? power[t] : 1e-3f;
  }
  free(power);
  return PV_OK;
}

/* Per output bin: where it reads its magnitude and phase advance. */
typedef struct {
  int32_t* below;       /* lower source bin of the magnitude */
  float* weight_below;  /* its weight, gain included */
  float* weight_above;  /* the weight of the bin above it */
  int32_t* nearest;     /* source bin whose frequency deviation is used */
  float* slope;         /* w's slope there */
  float* base_advance;  /* advance per hop, less the deviation's share */
  float* start_offset;  /* phase offset from the nearest bin's start phase */
  float* nominal;       /* per source bin: its centre frequency's advance */
} bin_map;

static int knots_are_valid(const double* source, const double* target,
                           size_t num_knots) {
  if (num_knots == 0) return 1;
  if (num_knots < 2 || !source || !target) return 0;
  if (source[0] != 0.0 || target[0] != 0.0) return 0;
  for (size_t k = 1; k < num_knots; ++k) {
    if (!(source[k] > source[k - 1]) || !(target[k] > target[k - 1]) ||
        !isfinite(source[k]) || !isfinite(target[k])) {
      return 0;
    }
    /* Every segment's slope, and its inverse, must be a usable number. */
    const double slope =
        (target[k] - target[k - 1]) / (source[k] - source[k - 1]);
    if (!(slope > 0.0) || !isfinite(slope) || !isfinite(1.0 / slope)) {
      return 0;
    }
  }
  return 1;
}

/* w^-1(bin), extended past the last knot along the last segment, and the
 * slope of w at that point. */
static double inverse_map(double bin, const double* source,
                          const double* target, size_t num_knots,
                          double* slope) {
  size_t k = 0;
  while (k + 2 < num_knots && bin > target[k + 1]) ++k;
  *slope = (target[k + 1] - target[k]) / (source[k + 1] - source[k]);
  return source[k] + (bin - target[k]) / *slope;
}

static void fill_bin_map(const bin_map* map, size_t num_bins,
                         double per_bin_advance, const double* source,
                         const double* target, size_t num_knots) {
  const double top = (double)(num_bins - 1);
  for (size_t j = 0; j < num_bins; ++j) {
    double slope = 1.0;
    double read_at = num_knots ? inverse_map((double)j, source, target,
                                             num_knots, &slope)
                               : (double)j;
    /* Nothing is read from above the Nyquist bin. Where w compresses, a
     * partial's peak narrows below the window's main lobe and resynthesizes
     * that much quieter: the gain gives its amplitude back. */
    const double gain = read_at <= top ? 1.0 / (slope < 1.0 ? slope : 1.0)
                                       : 0.0;
    read_at = read_at >= 0.0 ? (read_at < top ? read_at : top) : 0.0;
    const double below = floor(read_at) < top - 1.0 ? floor(read_at)
                                                    : top - 1.0;
    const double fraction = read_at - below;
    const double nearest = floor(read_at + 0.5);
    map->below[j] = (int32_t)below;
    map->weight_below[j] = (float)((1.0 - fraction) * gain);
    map->weight_above[j] = (float)(fraction * gain);
    map->nearest[j] = (int32_t)nearest;
    map->slope[j] = (float)slope;
    /* The partial read here sits at source bin nearest + deviation, which w
     * maps to j + slope * (nearest - read_at + deviation): its advance per
     * hop is this base plus slope times the measured deviation. */
    map->base_advance[j] = (float)wrap_phase_double(
        per_bin_advance * ((double)j + (nearest - read_at) * slope));
    /* Phases of a windowed partial alternate by pi from bin to bin (the window
     * is centred half a frame in); referred to the frame's centre they agree
     * across the main lobe, which is what lets a bin borrow another's phase. */
    map->start_offset[j] =
        (float)(PV_PI * (double)(((size_t)nearest % 2) != (j % 2)));
    map->nominal[j] = (float)wrap_phase_double(per_bin_advance * (double)j);
  }
}

MF_VECTOR_CLONES
static void polar(const float* restrict spectrum, size_t count,
                  float* restrict magnitude, float* restrict phase) {
  for (size_t i = 0; i < count; ++i) {
    const float re = spectrum[2 * i], im = spectrum[2 * i + 1];
    magnitude[i] = sqrtf(re * re + im * im);
    phase[i] = fast_atan2(im, re);
  }
}

/* One output frame: magnitudes and phase deviations at the input position,
 * read through the bin map; advances the running phases by one hop. */
MF_VECTOR_CLONES
static void synthesize_frame(const float* restrict magnitude0,
                             const float* restrict magnitude1,
                             const float* restrict phase0,
                             const float* restrict phase1, float weight,
                             int32_t num_bins, const bin_map* map, float* restrict interpolated,
                             float* restrict deviation,
                             float* restrict running_phase,
                             float* restrict out) {
  const float* restrict nominal = map->nominal;
  for (int32_t b = 0; b < num_bins; ++b) {
    interpolated[b] = magnitude0[b] + (magnitude1[b] - magnitude0[b]) * weight;
    deviation[b] = wrap_phase(phase1[b] - phase0[b] - nominal[b]);
  }
  const int32_t* restrict below = map->below;
  const int32_t* restrict nearest = map->nearest;
  const float* restrict weight_below = map->weight_below;
  const float* restrict weight_above = map->weight_above;
  const float* restrict slope = map->slope;
  const float* restrict base_advance = map->base_advance;
  for (int32_t j = 0; j < num_bins; ++j) {
    const float amplitude = interpolated[below[j]] * weight_below[j] +
                            interpolated[below[j] + 1] * weight_above[j];
    const float phase = running_phase[j];
    float sine, cosine;
    fast_sincos(phase, &sine, &cosine);
    out[2 * j] = amplitude * cosine;
    out[2 * j + 1] = amplitude * sine;
    running_phase[j] = wrap_phase(phase + deviation[nearest[j]] * slope[j] +
                                  base_advance[j]);
  }
}

pv_status pv_resynthesize(const float* spectrum, size_t num_frames,
                          size_t num_bins, size_t hop_length, double rate,
                          const double* source_knots,
                          const double* target_knots, size_t num_knots,
                          float* out, size_t num_out_frames) {
  if (!spectrum || (!out && num_out_frames) || num_frames < 2 ||
      num_bins < 2 || num_bins > ((size_t)1 << 24) ||
      !framing_is_valid(2 * (num_bins - 1), hop_length) ||
      !(rate > 0.0) || !isfinite(rate) ||
      !knots_are_valid(source_knots, target_knots, num_knots) ||
      num_frames > SIZE_MAX / 2 / num_bins) {
    return PV_ERROR_INVALID_ARGUMENT;
  }
  const size_t count = num_frames * num_bins;
  /* magnitude, phase, then per bin: 6 float tables, 2 int tables and 3
   * scratch rows. */
  float* magnitude = malloc(2 * count * sizeof(float));
  float* rows = malloc(9 * num_bins * sizeof(float));
  int32_t* indices = malloc(2 * num_bins * sizeof(int32_t));
  if (!magnitude || !rows || !indices) {
    free(magnitude);
    free(rows);
    free(indices);
    return PV_ERROR_OUT_OF_MEMORY;
  }
  float* phase = magnitude + count;
  const bin_map map = {indices,
                       rows,
                       rows + num_bins,
                       indices + num_bins,
                       rows + 2 * num_bins,
                       rows + 3 * num_bins,
                       rows + 4 * num_bins,
                       rows + 5 * num_bins};
  float* interpolated = rows + 6 * num_bins;
  float* deviation = rows + 7 * num_bins;
  float* running_phase = rows + 8 * num_bins;

  const double per_bin_advance =
      2.0 * PV_PI * (double)hop_length / (double)(2 * (num_bins - 1));
  polar(spectrum, count, magnitude, phase);
  fill_bin_map(&map, num_bins, per_bin_advance, source_knots, target_knots,
               num_knots);
  for (size_t j = 0; j < num_bins; ++j) {
    running_phase[j] = wrap_phase(phase[map.nearest[j]] + map.start_offset[j]);
  }

  /* Frame m reads input position m * rate, held below the last frame so that
   * both neighbours exist. */
  const double last = (double)(num_frames - 1) - 1e-6;
  for (size_t m = 0; m < num_out_frames; ++m) {
    double position = (double)m * rate;
    if (!(position < last)) position = last;
    const size_t lower = (size_t)position;
    const float* magnitude0 = magnitude + lower * num_bins;
    const float* phase0 = phase + lower * num_bins;
    synthesize_frame(magnitude0, magnitude0 + num_bins, phase0,
                     phase0 + num_bins, (float)(position - (double)lower),
                     (int32_t)num_bins, &map, interpolated,
                     deviation, running_phase, out + 2 * m * num_bins);
  }
  free(magnitude);
  free(rows);
  free(indices);
  return PV_OK;
}
