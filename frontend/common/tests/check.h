/* The assertion the C unit tests share: a failed CHECK prints where and what,
 * and counts; main() returns non-zero when any failed. */
#ifndef FRONTEND_TESTS_CHECK_H_
#define FRONTEND_TESTS_CHECK_H_

#include <stdio.h>

static int failures = 0;

#define CHECK(condition)                                               \
  do {                                                                 \
    if (!(condition)) {                                                \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
              #condition);                                             \
      ++failures;                                                      \
    }                                                                  \
  } while (0)

/* Checks that two integers are equal; on failure prints both, so that a
 * mismatch against a published vector says by how much. */
#define CHECK_EQUAL(actual, expected)                                      \
  do {                                                                     \
    const long long actual_ = (long long)(actual);                         \
    const long long expected_ = (long long)(expected);                     \
    if (actual_ != expected_) {                                            \
      fprintf(stderr,                                                      \
              "%s:%d: CHECK_EQUAL failed: %s is %lld, expected %s = %lld\n",\
              __FILE__, __LINE__, #actual, actual_, #expected, expected_); \
      ++failures;                                                          \
    }                                                                      \
  } while (0)

/* Ends a test program: prints the verdict, returns main's exit status. */
static int report(const char* program) {
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("%s: all checks passed\n", program);
  return 0;
}

#endif
