// Python binding of the loudness measurement's per-sample work in frontend/.
// Thin: typed arrays in, shapes checked, the GIL released while C runs.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstdint>

#include "loudness/loudness.h"

namespace nb = nanobind;

namespace {

template <typename T, typename Shape>
using Array = nb::ndarray<T, Shape, nb::c_contig, nb::device::cpu>;

void filtered_energy(Array<const float, nb::ndim<1>> audio,
                     Array<const double, nb::shape<-1, 6>> sections,
                     Array<const uint64_t, nb::ndim<1>> edges,
                     Array<double, nb::ndim<1>> out) {
  if (out.shape(0) != edges.shape(0)) {
    throw nb::value_error("out must have one value per edge");
  }
  static_assert(sizeof(size_t) == sizeof(uint64_t), "edges are passed as size_t");
  int status;
  {
    nb::gil_scoped_release release;
    status = ld_filtered_energy(
        audio.data(), audio.shape(0), sections.data(), sections.shape(0),
        reinterpret_cast<const size_t*>(edges.data()), edges.shape(0),
        out.data());
  }
  if (status != 0) {
    throw nb::value_error(
        "invalid loudness arguments: sections must be normalized (a0 = 1), at "
        "most 8, and edges non-decreasing within the audio");
  }
}

}  // namespace

NB_MODULE(_loudness, m) {
  m.doc() = "The per-sample work (C) of parallel_audio's BS.1770 loudness.";
  m.def("filtered_energy", &filtered_energy, nb::arg("audio").noconvert(),
        nb::arg("sections").noconvert(), nb::arg("edges").noconvert(),
        nb::arg("out").noconvert(),
        "Fills out[k] with the energy of audio, filtered by the biquad "
        "sections from rest, over samples [0, edges[k]).");
}
