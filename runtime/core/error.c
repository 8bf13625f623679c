/* Per-thread error messages and the Ctrl-C flag. */
#include "prior/error.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PRIOR_ERROR_CAP 1024

static _Thread_local prior_status tls_code = PRIOR_OK;
static _Thread_local char tls_message[PRIOR_ERROR_CAP];
static volatile sig_atomic_t interrupt_flag = 0;

prior_status prior_error_set(prior_status code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tls_message, sizeof tls_message, fmt, ap);
  va_end(ap);
  tls_code = code;
  return code;
}

prior_status prior_error_context(const char *fmt, ...) {
  char prefix[PRIOR_ERROR_CAP];
  char old[PRIOR_ERROR_CAP];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, tls_message, sizeof old);
  size_t n = strlen(prefix);
  if (n > sizeof tls_message - 3) n = sizeof tls_message - 3;
  memcpy(tls_message, prefix, n);
  memcpy(tls_message + n, ": ", 2);
  size_t room = sizeof tls_message - n - 3;
  size_t m = strnlen(old, room);
  memcpy(tls_message + n + 2, old, m);
  tls_message[n + 2 + m] = '\0';
  return tls_code;
}

const char *prior_error_message(void) { return tls_code == PRIOR_OK ? "" : tls_message; }
prior_status prior_error_code(void) { return tls_code; }

void prior_error_clear(void) {
  tls_code = PRIOR_OK;
  tls_message[0] = '\0';
}

const char *prior_status_name(prior_status code) {
  switch (code) {
    case PRIOR_OK: return "ok";
    case PRIOR_ERR_ARGUMENT: return "bad argument";
    case PRIOR_ERR_SHAPE: return "shape mismatch";
    case PRIOR_ERR_DTYPE: return "wrong dtype";
    case PRIOR_ERR_DEVICE: return "wrong device";
    case PRIOR_ERR_INDEX: return "index out of range";
    case PRIOR_ERR_MEMORY: return "out of memory";
    case PRIOR_ERR_IO: return "i/o error";
    case PRIOR_ERR_FORMAT: return "bad file format";
    case PRIOR_ERR_UNSUPPORTED: return "unsupported";
    case PRIOR_ERR_INTERRUPTED: return "interrupted";
    case PRIOR_ERR_AUTOGRAD: return "autograd error";
    case PRIOR_ERR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

void prior_interrupt_raise(void) { interrupt_flag = 1; }
void prior_interrupt_clear(void) { interrupt_flag = 0; }
int prior_interrupt_pending(void) { return interrupt_flag != 0; }

prior_status prior_interrupt_check(void) {
  if (!interrupt_flag) return PRIOR_OK;
  interrupt_flag = 0;
  return prior_error_set(PRIOR_ERR_INTERRUPTED, "interrupted by the user (Ctrl-C)");
}

char *prior_shape_str(char *buf, size_t cap, int ndim, const long long *shape) {
  size_t n = 0;
  n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "[");
  for (int i = 0; i < ndim; i++)
    n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, i ? ", %lld" : "%lld", shape[i]);
  snprintf(buf + n, n < cap ? cap - n : 0, "]");
  return buf;
}

void prior_assert_fail(const char *expr, const char *file, int line) {
  fprintf(stderr, "prior: internal assertion failed: %s (%s:%d)\n", expr, file, line);
  abort();
}
