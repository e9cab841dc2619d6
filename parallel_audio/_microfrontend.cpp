// Python binding of the C microfrontend in frontend/. Kept thin: typed
// arrays in, status codes turned into exceptions, the GIL released while C
// runs. Validation with user-facing messages lives in the Python layer.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cmath>
#include <memory>
#include <mutex>
#include <string>

#include "microfrontend/frontend.h"

namespace nb = nanobind;

namespace {

using Samples = nb::ndarray<const int16_t, nb::ndim<1>, nb::c_contig,
                            nb::device::cpu>;
using Spectrogram = nb::ndarray<uint16_t, nb::ndim<2>, nb::c_contig,
                                nb::device::cpu>;
using Values = nb::ndarray<const uint16_t, nb::c_contig, nb::device::cpu>;
using Int8Values = nb::ndarray<int8_t, nb::c_contig, nb::device::cpu>;

void raise_for(mf_status status, const char* bad_setting) {
  switch (status) {
    case MF_OK:
      return;
    case MF_ERROR_OUT_OF_MEMORY:
      throw std::bad_alloc();
    case MF_ERROR_OUTPUT_TOO_SMALL:
      throw nb::value_error("output array is too small for the spectrogram");
    case MF_ERROR_INVALID_ARGUMENT:
    default:
      // feature_generator.py recognizes the layout failure by its words.
      throw nb::value_error(
          (std::string("invalid frontend setting: ") +
           (bad_setting ? bad_setting : "the filterbank does not fit the "
                                        "spectrum"))
              .c_str());
  }
}

// Owns one native frontend. The mutex makes concurrent calls from threads
// that share an instance safe; each call still runs without the GIL.
class Frontend {
 public:
  explicit Frontend(const mf_config& config) {
    const char* bad_setting = nullptr;
    // Two statements: in one call, bad_setting could be read before validation sets it
    // (argument evaluation order is unspecified), and no setting would ever be named.
    const mf_status status = mf_config_validate(&config, &bad_setting);
    raise_for(status, bad_setting);
    mf_frontend* frontend = nullptr;
    raise_for(mf_frontend_create(&config, &frontend), nullptr);
    frontend_.reset(frontend);
  }

  size_t num_frames(size_t num_samples) const {
    return mf_frontend_num_frames(frontend_.get(), num_samples);
  }
  size_t num_channels() const {
    return mf_frontend_num_channels(frontend_.get());
  }
  size_t window_samples() const {
    return mf_frontend_window_samples(frontend_.get());
  }
  size_t step_samples() const {
    return mf_frontend_step_samples(frontend_.get());
  }
  size_t fft_length() const { return mf_frontend_fft_length(frontend_.get()); }

  // Fills out[frames, channels]; returns whether activity was detected.
  bool process(Samples samples, Spectrogram out) {
    const size_t frames = num_frames(samples.shape(0));
    if (out.shape(0) != frames || out.shape(1) != num_channels()) {
      throw nb::value_error("output array must have shape (frames, channels)");
    }
    mf_status status;
    bool activity;
    {
      nb::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      status = mf_frontend_process(frontend_.get(), samples.data(),
                                   samples.shape(0), out.data(), out.size());
      activity = mf_frontend_activity_detected(frontend_.get()) != 0;
    }
    raise_for(status, nullptr);
    return activity;
  }

 private:
  struct Deleter {
    void operator()(mf_frontend* frontend) const {
      mf_frontend_destroy(frontend);
    }
  };
  std::unique_ptr<mf_frontend, Deleter> frontend_;
  std::mutex mutex_;
};

void check_same_size(const Values& values, const Int8Values& out) {
  if (values.size() != out.size()) {
    throw nb::value_error("output array must have as many values as the input");
  }
}

// The dynamic scaling's domain: outside it the C function would shift or
// convert out of range.
void check_dynamic_scaling(float range_db, int32_t log_scale_shift) {
  if (!std::isfinite(range_db) || range_db <= 0.0f || range_db > 200.0f) {
    throw nb::value_error("range_db must be a number in (0, 200]");
  }
  if (log_scale_shift < 0 || log_scale_shift > MF_MAX_LOG_SCALE_SHIFT) {
    throw nb::value_error(
        ("log_scale_shift must be an integer in [0, " +
         std::to_string(MF_MAX_LOG_SCALE_SHIFT) + "]")
            .c_str());
  }
}

}  // namespace

NB_MODULE(_microfrontend, m) {
  m.doc() = "The integer microfrontend (C) behind parallel_audio's features.";

  // The values of Config.arithmetic, named as the Python setting names them.
  nb::dict arithmetics;
  arithmetics["mltk"] = static_cast<int>(MF_ARITHMETIC_MLTK);
  arithmetics["tf_op"] = static_cast<int>(MF_ARITHMETIC_TF_OP);
  arithmetics["tflm"] = static_cast<int>(MF_ARITHMETIC_TFLM);
  m.attr("ARITHMETICS") = arithmetics;

  nb::class_<mf_config>(m, "Config")
      .def("__init__", [](mf_config* config) {
        new (config) mf_config();
        mf_config_defaults(config);
      })
      .def_rw("arithmetic", &mf_config::arithmetic)
      .def_rw("sample_rate_hz", &mf_config::sample_rate_hz)
      .def_rw("window_size_ms", &mf_config::window_size_ms)
      .def_rw("window_step_ms", &mf_config::window_step_ms)
      .def_rw("filterbank_num_channels", &mf_config::filterbank_num_channels)
      .def_rw("filterbank_lower_band_limit_hz",
              &mf_config::filterbank_lower_band_limit_hz)
      .def_rw("filterbank_upper_band_limit_hz",
              &mf_config::filterbank_upper_band_limit_hz)
      .def_rw("noise_reduction_enable", &mf_config::noise_reduction_enable)
      .def_rw("noise_reduction_smoothing_bits",
              &mf_config::noise_reduction_smoothing_bits)
      .def_rw("noise_reduction_even_smoothing",
              &mf_config::noise_reduction_even_smoothing)
      .def_rw("noise_reduction_odd_smoothing",
              &mf_config::noise_reduction_odd_smoothing)
      .def_rw("noise_reduction_min_signal_remaining",
              &mf_config::noise_reduction_min_signal_remaining)
      .def_rw("pcan_enable", &mf_config::pcan_enable)
      .def_rw("pcan_strength", &mf_config::pcan_strength)
      .def_rw("pcan_offset", &mf_config::pcan_offset)
      .def_rw("pcan_gain_bits", &mf_config::pcan_gain_bits)
      .def_rw("log_scale_enable", &mf_config::log_scale_enable)
      .def_rw("log_scale_shift", &mf_config::log_scale_shift)
      .def_rw("dc_notch_filter_enable", &mf_config::dc_notch_filter_enable)
      .def_rw("dc_notch_filter_coefficient",
              &mf_config::dc_notch_filter_coefficient)
      .def_rw("activity_detection_enable",
              &mf_config::activity_detection_enable)
      .def_rw("activity_detection_alpha_a",
              &mf_config::activity_detection_alpha_a)
      .def_rw("activity_detection_alpha_b",
              &mf_config::activity_detection_alpha_b)
      .def_rw("activity_detection_arm_threshold",
              &mf_config::activity_detection_arm_threshold)
      .def_rw("activity_detection_trip_threshold",
              &mf_config::activity_detection_trip_threshold);

  nb::class_<Frontend>(m, "Frontend")
      .def(nb::init<const mf_config&>(), nb::arg("config"))
      .def("num_frames", &Frontend::num_frames, nb::arg("num_samples"))
      .def_prop_ro("num_channels", &Frontend::num_channels)
      .def_prop_ro("window_samples", &Frontend::window_samples)
      .def_prop_ro("step_samples", &Frontend::step_samples)
      .def_prop_ro("fft_length", &Frontend::fft_length)
      .def("process", &Frontend::process, nb::arg("samples").noconvert(),
           nb::arg("out").noconvert(),
           "Fills out[frames, channels] with the uint16 spectrogram of "
           "int16 samples; returns whether activity was detected.");

  m.def(
      "quantize_int8_static",
      [](Values values, Int8Values out) {
        check_same_size(values, out);
        nb::gil_scoped_release release;
        mf_quantize_int8_static(values.data(), values.size(), out.data());
      },
      nb::arg("values").noconvert(), nb::arg("out").noconvert());
  m.def(
      "quantize_int8_dynamic",
      [](Values values, Int8Values out, float range_db,
         int32_t log_scale_shift) {
        check_same_size(values, out);
        check_dynamic_scaling(range_db, log_scale_shift);
        nb::gil_scoped_release release;
        mf_quantize_int8_dynamic(values.data(), values.size(), range_db,
                                 log_scale_shift, out.data());
      },
      nb::arg("values").noconvert(), nb::arg("out").noconvert(),
      nb::arg("range_db"), nb::arg("log_scale_shift"));

  // The C's own bound, for Python's settings to be checked against.
  m.attr("MAX_LOG_SCALE_SHIFT") = MF_MAX_LOG_SCALE_SHIFT;
}
