/*
 * Activity detection on the filterbank's output: a fast and a slow moving
 * average of the frame energy. The detector arms when the fast average drops
 * below arm_threshold times the slow one (the signal went quiet) and trips
 * when it then rises above trip_threshold times the slow one (a new onset).
 */
#ifndef MICROFRONTEND_ACTIVITY_H_
#define MICROFRONTEND_ACTIVITY_H_

#include <stddef.h>
#include <stdint.h>

typedef struct {
  size_t num_channels;
  int sum_shift;          /* ceil(log2(num_channels)): the sum as a mean */
  int32_t alpha_fast;     /* Q8 */
  int32_t alpha_slow;     /* Q8 */
  int32_t arm_threshold;  /* Q12 */
  int32_t trip_threshold; /* Q12 */
  int64_t fast;
  int64_t slow;
  int armed;
  int tripped;
} mf_activity;

void mf_activity_populate(mf_activity* activity, size_t num_channels,
                          float alpha_a, float alpha_b, float arm_threshold,
                          float trip_threshold);
void mf_activity_reset(mf_activity* activity);
void mf_activity_update(mf_activity* activity, const uint32_t* channels);

#endif
