/* Errors: every public function returns a prior_status (or NULL) and leaves a message for this thread.
 *
 * Bad input never aborts the process: a user at the REPL must keep their session. The message names the
 * shapes, dtypes, values or file at fault; the Lua layer turns it into a Lua error. Internal invariants
 * (bugs, not bad input) use PRIOR_ASSERT, which reports file and line before aborting. */
#ifndef PRIOR_ERROR_H
#define PRIOR_ERROR_H

#include <stddef.h>

typedef enum prior_status {
  PRIOR_OK = 0,
  PRIOR_ERR_ARGUMENT,    /* a value out of its allowed range, a NULL where a tensor was needed */
  PRIOR_ERR_SHAPE,       /* shapes that do not fit together */
  PRIOR_ERR_DTYPE,       /* a dtype the operation does not take */
  PRIOR_ERR_DEVICE,      /* tensors on different devices, or a device that is not there */
  PRIOR_ERR_INDEX,       /* an index out of range */
  PRIOR_ERR_MEMORY,      /* an allocation failed */
  PRIOR_ERR_IO,          /* a file could not be opened, read or written */
  PRIOR_ERR_FORMAT,      /* a file's content is not what its format says */
  PRIOR_ERR_UNSUPPORTED, /* valid, but not implemented by this build or backend */
  PRIOR_ERR_INTERRUPTED, /* the user pressed Ctrl-C; the operation stopped at a safe point */
  PRIOR_ERR_AUTOGRAD,    /* backward on something that has no graph, or twice through a freed graph */
  PRIOR_ERR_INTERNAL     /* a library bug that could be reported instead of aborting */
} prior_status;

/* Sets this thread's error and returns `code`, so that `return prior_error_set(...)` reads naturally. */
prior_status prior_error_set(prior_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prepends context ("loading layer1.0.conv1.weight: ") to the current message; returns the current code. */
prior_status prior_error_context(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *prior_error_message(void);
prior_status prior_error_code(void);
const char *prior_status_name(prior_status code);
void prior_error_clear(void);

/* Ctrl-C: the REPL's signal handler raises the flag; long loops in C check it at safe points and stop
 * with PRIOR_ERR_INTERRUPTED. */
void prior_interrupt_raise(void);
void prior_interrupt_clear(void);
int prior_interrupt_pending(void);
/* Returns PRIOR_ERR_INTERRUPTED (with a message) if Ctrl-C was pressed, PRIOR_OK otherwise; clears the flag. */
prior_status prior_interrupt_check(void);

/* Shape text for messages: writes "[2, 3, 4]" into buf and returns buf. */
char *prior_shape_str(char *buf, size_t cap, int ndim, const long long *shape);

void prior_assert_fail(const char *expr, const char *file, int line);
#define PRIOR_ASSERT(cond) ((cond) ? (void)0 : prior_assert_fail(#cond, __FILE__, __LINE__))

/* Propagates a failed status to the caller. */
#define PRIOR_TRY(expr)                   \
  do {                                    \
    prior_status prior_try_s_ = (expr);   \
    if (prior_try_s_ != PRIOR_OK) return prior_try_s_; \
  } while (0)

#endif
