#include "check.h"

int main(void) {
  CHECK(prior_error_code() == PRIOR_OK);
  CHECK(prior_error_set(PRIOR_ERR_SHAPE, "shapes %d and %d", 2, 3) == PRIOR_ERR_SHAPE);
  CHECK(strcmp(prior_error_message(), "shapes 2 and 3") == 0);
  prior_error_context("in add");
  CHECK(strcmp(prior_error_message(), "in add: shapes 2 and 3") == 0);
  prior_error_clear();
  CHECK(prior_error_code() == PRIOR_OK && prior_error_message()[0] == 0);
  long long shape[3] = {2, 3, 4};
  char buf[64];
  CHECK(strcmp(prior_shape_str(buf, sizeof buf, 3, shape), "[2, 3, 4]") == 0);
  CHECK(strcmp(prior_shape_str(buf, sizeof buf, 0, shape), "[]") == 0);
  prior_interrupt_raise();
  CHECK(prior_interrupt_check() == PRIOR_ERR_INTERRUPTED);
  CHECK(prior_interrupt_check() == PRIOR_OK);
  return check_summary("test_error");
}
