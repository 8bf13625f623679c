/* A minimal test harness: CHECK records a failure and goes on; the test's main returns check_summary(),
 * which prints "N passed, N failed" and is non-zero when anything failed. */
#ifndef PRIOR_TEST_CHECK_H
#define PRIOR_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "prior/error.h"

static int check_passed_ = 0, check_failed_ = 0;

#define CHECK(cond)                                                                     \
  do {                                                                                  \
    if (cond) {                                                                         \
      check_passed_++;                                                                  \
    } else {                                                                            \
      check_failed_++;                                                                  \
      fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                   \
    }                                                                                   \
  } while (0)

#define CHECK_MSG(cond, ...)                                                            \
  do {                                                                                  \
    if (cond) {                                                                         \
      check_passed_++;                                                                  \
    } else {                                                                            \
      check_failed_++;                                                                  \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                   \
      fprintf(stderr, __VA_ARGS__);                                                     \
      fprintf(stderr, "\n");                                                            \
    }                                                                                   \
  } while (0)

/* A call that must succeed; on failure prints the runtime's error message. */
#define CHECK_OK(expr)                                                                  \
  do {                                                                                  \
    prior_status check_s_ = (expr);                                                     \
    CHECK_MSG(check_s_ == PRIOR_OK, "%s", prior_error_message());                      \
  } while (0)

/* A call that must fail with `code` and leave a message containing `needle`. */
#define CHECK_ERR(expr, code, needle)                                                   \
  do {                                                                                  \
    prior_error_clear();                                                                \
    (void)(expr);                                                                       \
    CHECK_MSG(prior_error_code() == (code) && strstr(prior_error_message(), (needle)),  \
              "expected %s containing '%s', got %s: '%s'", prior_status_name(code),    \
              (needle), prior_status_name(prior_error_code()), prior_error_message());  \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                           \
  do {                                                                                  \
    double check_a_ = (a), check_b_ = (b);                                              \
    CHECK_MSG(fabs(check_a_ - check_b_) <= (tol), "%.9g vs %.9g (tol %g)", check_a_,  \
              check_b_, (double)(tol));                                                 \
  } while (0)

static inline int check_summary(const char *name) {
  printf("%s: %d passed, %d failed\n", name, check_passed_, check_failed_);
  return check_failed_ ? 1 : 0;
}

#endif
