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
