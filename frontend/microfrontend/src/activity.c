#include "activity.h"

#include "bits.h"

void mf_activity_populate(mf_activity* activity, size_t num_channels,
                          float alpha_a, float alpha_b, float arm_threshold,
                          float trip_threshold) {
  activity->num_channels = num_channels;
  activity->sum_shift = mf_msb32((uint32_t)(num_channels - 1));
  /* Truncated from float, as the reference converts them. */
  activity->alpha_fast = (int16_t)(alpha_a * 256.0f);
  activity->alpha_slow = (int16_t)(alpha_b * 256.0f);
  activity->arm_threshold = (int16_t)(arm_threshold * 4096.0f);
  activity->trip_threshold = (int16_t)(trip_threshold * 4096.0f);
  mf_activity_reset(activity);
}

void mf_activity_reset(mf_activity* activity) {
  activity->fast = 0;
  activity->slow = 0;
  activity->armed = 0;
  activity->tripped = 0;
}

/* y = ((256 - alpha) x + alpha y) / 256, rounded half up. Computed in 64 bits,
 * where the reference's 32-bit products would overflow for sums above 2^23. */
static int64_t smooth(int64_t x, int64_t y, int32_t alpha) {
  return ((((256 - alpha) * x + alpha * y) >> 7) + 1) >> 1;
}

void mf_activity_update(mf_activity* activity, const uint32_t* channels) {
  uint32_t sum = 0;
  for (size_t i = 0; i < activity->num_channels; ++i) sum += channels[i];
  const int64_t energy = sum >> activity->sum_shift;
  activity->fast = smooth(energy, activity->fast, activity->alpha_fast);
  activity->slow = smooth(energy, activity->slow, activity->alpha_slow);
  if (!activity->armed) {
    if (activity->fast < (activity->slow * activity->arm_threshold) >> 12) {
      activity->armed = 1;
    }
  } else if (activity->fast >
             (activity->slow * activity->trip_threshold) >> 12) {
    activity->armed = 0;
    activity->tripped = 1;
  }
}
