// Python binding of the phase vocoder's per-frame arithmetic in frontend/.
// Thin: typed arrays in, shapes checked, status codes turned into exceptions,
// the GIL released while C runs. The FFTs in between stay in Python.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <complex>
#include <new>

#include "phase_vocoder/phase_vocoder.h"

namespace nb = nanobind;

namespace {

template <typename T, typename Shape>
using Array = nb::ndarray<T, Shape, nb::c_contig, nb::device::cpu>;
using Audio = Array<const float, nb::ndim<1>>;
using AudioOut = Array<float, nb::ndim<1>>;
using Frames = Array<const float, nb::ndim<2>>;
using FramesOut = Array<float, nb::ndim<2>>;
using Spectrum = Array<const std::complex<float>, nb::ndim<2>>;
using SpectrumOut = Array<std::complex<float>, nb::ndim<2>>;
using Knots = Array<const double, nb::ndim<1>>;

void raise_for(pv_status status) {
  switch (status) {
    case PV_OK:
      return;
    case PV_ERROR_OUT_OF_MEMORY:
      throw std::bad_alloc();
    case PV_ERROR_INVALID_ARGUMENT:
    default:
      throw nb::value_error("invalid phase vocoder arguments");
  }
}

void check_window(const Audio& window, size_t frame_length) {
  if (window.shape(0) != frame_length) {
    throw nb::value_error("the window must have one value per frame sample");
  }
}

void analysis_frames(Audio audio, Audio window, size_t hop_length,
                     FramesOut out) {
  check_window(window, out.shape(1));
  if (out.shape(0) != pv_num_frames(audio.shape(0), hop_length)) {
    throw nb::value_error("out must have one row per analysis frame");
  }
  pv_status status;
  {
    nb::gil_scoped_release release;
    status = pv_analysis_frames(audio.data(), audio.shape(0), window.data(),
                                out.shape(1), hop_length, out.data(),
                                out.shape(0));
  }
  raise_for(status);
}

void resynthesize(Spectrum spectrum, size_t hop_length, double rate,
                  Knots source_knots, Knots target_knots, SpectrumOut out) {
  if (out.shape(1) != spectrum.shape(1)) {
    throw nb::value_error("out must have as many bins as the spectrum");
  }
  if (source_knots.shape(0) != target_knots.shape(0)) {
    throw nb::value_error("source and target knots must be as many");
  }
  pv_status status;
  {
    nb::gil_scoped_release release;
    status = pv_resynthesize(
        reinterpret_cast<const float*>(spectrum.data()), spectrum.shape(0),
        spectrum.shape(1), hop_length, rate, source_knots.data(),
        target_knots.data(), source_knots.shape(0),
        reinterpret_cast<float*>(out.data()), out.shape(0));
  }
  raise_for(status);
}

void overlap_add(Frames frames, Audio window, size_t hop_length,
                 AudioOut out) {
  check_window(window, frames.shape(1));
  pv_status status;
  {
    nb::gil_scoped_release release;
    status = pv_overlap_add(frames.data(), frames.shape(0), frames.shape(1),
                            hop_length, window.data(), out.data(),
                            out.shape(0));
  }
  raise_for(status);
}

}  // namespace

NB_MODULE(_phase_vocoder, m) {
  m.doc() = "The phase vocoder's per-frame arithmetic (C) behind speed, pitch "
            "and VTLP.";
  m.def("num_frames", &pv_num_frames, nb::arg("num_samples"),
        nb::arg("hop_length"));
  m.def("analysis_frames", &analysis_frames, nb::arg("audio").noconvert(),
        nb::arg("window").noconvert(), nb::arg("hop_length"),
        nb::arg("out").noconvert(),
        "Fills out[frames, frame_length] with windowed frames centred every "
        "hop, the audio zero padded by half a frame.");
  m.def("resynthesize", &resynthesize, nb::arg("spectrum").noconvert(),
        nb::arg("hop_length"), nb::arg("rate"),
        nb::arg("source_knots").noconvert(),
        nb::arg("target_knots").noconvert(), nb::arg("out").noconvert(),
        "Fills out[frames, bins] with the spectra of output frames read at "
        "input position m * rate and through the knots' frequency map (in "
        "bins; none for the identity).");
  m.def("overlap_add", &overlap_add, nb::arg("frames").noconvert(),
        nb::arg("window").noconvert(), nb::arg("hop_length"),
        nb::arg("out").noconvert(),
        "Fills out with the windowed frames summed every hop and divided by "
        "the summed squared window.");
}
