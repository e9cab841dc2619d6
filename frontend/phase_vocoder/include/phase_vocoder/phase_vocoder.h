/*
 * phase_vocoder: the per-frame arithmetic of a phase vocoder that changes a
 * clip's duration and warps its frequency axis in one pass.
 *
 * The caller frames the audio (pv_analysis_frames), takes the real FFT of each
 * frame, lets pv_resynthesize compute the spectra of the output frames, takes
 * their inverse real FFT, and sums them back to audio (pv_overlap_add). The
 * FFTs stay with the caller, which has a tuned one.
 *
 * Frames are centred every hop_length samples, the first on sample 0, with the
 * audio zero padded by half a frame at both ends. Spectra are row-major
 * (frame, bin) arrays of interleaved float real and imaginary parts, with
 * frame_length / 2 + 1 bins.
 *
 * Plain C99, no globals, never prints; every function checks its arguments and
 * is safe on any values in its arrays (non-finite ones give non-finite output).
 */
#ifndef PHASE_VOCODER_PHASE_VOCODER_H_
#define PHASE_VOCODER_PHASE_VOCODER_H_

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  PV_OK = 0,
  PV_ERROR_INVALID_ARGUMENT = 1,
  PV_ERROR_OUT_OF_MEMORY = 2,
} pv_status;

/* Frames needed to cover num_samples: 1 + ceil(num_samples / hop_length);
 * 0 when hop_length is 0. */
size_t pv_num_frames(size_t num_samples, size_t hop_length);

/* frames[k][i] = window[i] * audio[k * hop_length + i - frame_length / 2],
 * zero outside the audio, for k < num_frames. frame_length must be even and a
 * multiple of hop_length. */
pv_status pv_analysis_frames(const float* audio, size_t num_samples,
                             const float* window, size_t frame_length,
                             size_t hop_length, float* frames,
                             size_t num_frames);

/* The spectra of num_out_frames output frames, the m-th read at input frame
 * position m * rate and through a piecewise-linear frequency map w.
 *
 * Output bin j takes the magnitude at source bin w^-1(j), interpolated between
 * neighbouring frames and bins (times 1 / slope where w compresses, so that a
 * partial keeps its amplitude; zero above the Nyquist bin), and advances its
 * phase from frame to frame by w of the instantaneous frequency of the source
 * bin nearest to w^-1(j). Output frame 0 starts from input frame 0's phases.
 *
 * The map is given by num_knots knots (source_knots[k], target_knots[k]) in
 * bins, both strictly increasing and starting at 0; num_knots == 0 is the
 * identity. rate must be positive; num_frames at least 2.
 * out has num_out_frames * num_bins complex values. */
pv_status pv_resynthesize(const float* spectrum, size_t num_frames,
                          size_t num_bins, size_t hop_length, double rate,
                          const double* source_knots,
                          const double* target_knots, size_t num_knots,
                          float* out, size_t num_out_frames);

/* audio[t] = sum_k window[i] * frames[k][i] / sum_k window[i]^2 with
 * i = t + frame_length / 2 - k * hop_length, the inverse of the analysis
 * framing (the denominator kept above 1e-3), for t < num_samples. Frames past
 * num_frames count as silent. */
pv_status pv_overlap_add(const float* frames, size_t num_frames,
                         size_t frame_length, size_t hop_length,
                         const float* window, float* audio,
                         size_t num_samples);

#ifdef __cplusplus
}
#endif

#endif
