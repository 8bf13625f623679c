/* CPU elementwise kernels: unary, binary (with broadcasting), where. Loops are generated per dtype so the
 * compiler vectorises the contiguous case; the op switch sits outside the loop. */
#include <math.h>

#include "backend/cpu/vec_f32.h"
#include "core/bf16.h"
#include "backend/kernels.h"
#include "core/strided.h"

#define INV_SQRT2 0.70710678118654752440
/* GELU needs 1 + erf(x); in double, erfc(-x) gives it without cancelling the tail for negative x */
static inline double one_plus_erf(double x) { return erfc(-x); }
#define INV_SQRT_2PI 0.39894228040143267794

typedef struct unary_ctx {
  int op;
  double p0, p1;
} unary_ctx;

/* Contiguous runs get a plain indexed loop (vectorisable); strided runs step through bytes. */
#define UNARY_LOOP(T, EXPR)                                                              \
  do {                                                                                   \
    if (s[0] == (int64_t)sizeof(T) && s[1] == (int64_t)sizeof(T)) {                      \
      T *o = (T *)p[0];                                                                  \
      const T *in = (const T *)p[1];                                                     \
      for (int64_t i = 0; i < n; i++) {                                                  \
        T x = in[i];                                                                     \
        o[i] = (EXPR);                                                                   \
      }                                                                                  \
    } else {                                                                             \
      for (int64_t i = 0; i < n; i++) {                                                  \
        T x = *(const T *)(p[1] + i * s[1]);                                             \
        *(T *)(p[0] + i * s[0]) = (EXPR);                                                \
      }                                                                                  \
    }                                                                                    \
  } while (0)

#define DEFINE_UNARY_FLOAT(NAME, T, EXP_FN, LOG_FN, SQRT_FN, TANH_FN, ONE_PLUS_ERF, POW_FN, FABS_FN, EXPM1_FN, LOG1P_FN) \
  static void NAME(char **p, const int64_t *s, int64_t n, void *vctx) {                  \
    const unary_ctx *c = vctx;                                                           \
    const T p0 = (T)c->p0, p1 = (T)c->p1;                                                \
    switch (c->op) {                                                                     \
      case PRIOR_UNARY_NEG: UNARY_LOOP(T, -x); break;                                    \
      case PRIOR_UNARY_EXP: UNARY_LOOP(T, EXP_FN(x)); break;                             \
      case PRIOR_UNARY_LOG: UNARY_LOOP(T, LOG_FN(x)); break;                             \
      case PRIOR_UNARY_SQRT: UNARY_LOOP(T, SQRT_FN(x)); break;                           \
      case PRIOR_UNARY_RSQRT: UNARY_LOOP(T, (T)1 / SQRT_FN(x)); break;                   \
      case PRIOR_UNARY_ABS: UNARY_LOOP(T, FABS_FN(x)); break;                            \
      case PRIOR_UNARY_SIGMOID: UNARY_LOOP(T, (T)1 / ((T)1 + EXP_FN(-x))); break;        \
      case PRIOR_UNARY_TANH: UNARY_LOOP(T, TANH_FN(x)); break;                           \
      case PRIOR_UNARY_RELU: UNARY_LOOP(T, x > 0 ? x : (T)0); break;                     \
      case PRIOR_UNARY_GELU: UNARY_LOOP(T, (T)0.5 * x * ONE_PLUS_ERF(x * (T)INV_SQRT2)); break; \
      case PRIOR_UNARY_CLAMP: UNARY_LOOP(T, x < p0 ? p0 : (x > p1 ? p1 : x)); break;     \
      case PRIOR_UNARY_POW_SCALAR: UNARY_LOOP(T, POW_FN(x, p0)); break;                  \
      case PRIOR_UNARY_SIGN: UNARY_LOOP(T, (T)((x > 0) - (x < 0))); break;               \
      case PRIOR_UNARY_SQUARE: UNARY_LOOP(T, x * x); break;                              \
      case PRIOR_UNARY_RECIPROCAL: UNARY_LOOP(T, (T)1 / x); break;                       \
      case PRIOR_UNARY_LOG1P: UNARY_LOOP(T, LOG1P_FN(x)); break;                         \
      case PRIOR_UNARY_EXPM1: UNARY_LOOP(T, EXPM1_FN(x)); break;                         \
      case PRIOR_UNARY_AFFINE: UNARY_LOOP(T, x * p0 + p1); break;                        \
      case PRIOR_UNARY_CLAMP_MASK: UNARY_LOOP(T, (T)(x >= p0 && x <= p1)); break;        \
    }                                                                                    \
  }

DEFINE_UNARY_FLOAT(unary_f32, float, expf, logf, sqrtf, tanhf, v1perff, powf, fabsf, expm1f, log1pf)
DEFINE_UNARY_FLOAT(unary_f64, double, exp, log, sqrt, tanh, one_plus_erf, pow, fabs, expm1, log1p)

/* f32 in, bf16 out (an activation whose only consumer is a product under autocast): the f32 loop above on a
 * block of values, each result then rounded, so the bits are those of the f32 op followed by the conversion. */
#define BF16_OUT_BLOCK 256
static void unary_f32_to_bf16(char **p, const int64_t *s, int64_t n, void *vctx) {
  float block[BF16_OUT_BLOCK];
  for (int64_t i0 = 0; i0 < n; i0 += BF16_OUT_BLOCK) {
    int64_t m = n - i0 < BF16_OUT_BLOCK ? n - i0 : BF16_OUT_BLOCK;
    char *q[2] = {(char *)block, p[1] + i0 * s[1]};
    int64_t qs[2] = {(int64_t)sizeof(float), s[1]};
    unary_f32(q, qs, m, vctx);
    if (s[0] == (int64_t)sizeof(uint16_t)) {
      uint16_t *o = (uint16_t *)p[0] + i0;
#pragma omp simd
      for (int64_t k = 0; k < m; k++) o[k] = prior_bf16_round(block[k]);
    } else {
      for (int64_t k = 0; k < m; k++) *(uint16_t *)(p[0] + (i0 + k) * s[0]) = prior_bf16_round(block[k]);
    }
  }
}

#define DEFINE_UNARY_INT(NAME, T)                                                        \
  static void NAME(char **p, const int64_t *s, int64_t n, void *vctx) {                  \
    const unary_ctx *c = vctx;                                                           \
    switch (c->op) {                                                                     \
      case PRIOR_UNARY_NEG: UNARY_LOOP(T, -x); break;                                    \
      case PRIOR_UNARY_ABS: UNARY_LOOP(T, x < 0 ? -x : x); break;                        \
      case PRIOR_UNARY_SIGN: UNARY_LOOP(T, (T)((x > 0) - (x < 0))); break;               \
      case PRIOR_UNARY_SQUARE: UNARY_LOOP(T, x * x); break;                              \
      case PRIOR_UNARY_RELU: UNARY_LOOP(T, x > 0 ? x : (T)0); break;                     \
      case PRIOR_UNARY_CLAMP: UNARY_LOOP(T, x < (T)c->p0 ? (T)c->p0 : (x > (T)c->p1 ? (T)c->p1 : x)); break; \
      case PRIOR_UNARY_AFFINE: UNARY_LOOP(T, (T)(x * c->p0 + c->p1)); break;             \
    }                                                                                    \
  }

DEFINE_UNARY_INT(unary_i32, int32_t)
DEFINE_UNARY_INT(unary_i64, int64_t)

static int unary_int_supported(int op) {
  return op == PRIOR_UNARY_NEG || op == PRIOR_UNARY_ABS || op == PRIOR_UNARY_SIGN || op == PRIOR_UNARY_SQUARE ||
         op == PRIOR_UNARY_RELU || op == PRIOR_UNARY_CLAMP || op == PRIOR_UNARY_AFFINE;
}

static prior_status cpu_unary(prior_tensor *out, const prior_tensor *in, int op, const double *params) {
  prior_strided_fn fn = NULL;
  switch (in->dtype) {
    case PRIOR_F32: fn = unary_f32; break;
    case PRIOR_F64: fn = unary_f64; break;
    case PRIOR_I32: fn = unary_int_supported(op) ? unary_i32 : NULL; break;
    case PRIOR_I64: fn = unary_int_supported(op) ? unary_i64 : NULL; break;
    default: break;
  }
  if (fn == unary_f32 && out->dtype == PRIOR_BF16) fn = unary_f32_to_bf16;
  else if (out->dtype != in->dtype) fn = NULL;
  if (!fn)
    return prior_error_set(PRIOR_ERR_DTYPE, "unary op %d is not implemented for %s -> %s on cpu", op,
                           prior_dtype_name(in->dtype), prior_dtype_name(out->dtype));
  unary_ctx ctx = {op, params ? params[0] : 0, params ? params[1] : 0};
  prior_tensor *ops[2] = {out, (prior_tensor *)in};
  prior_strided it;
  prior_strided_init(&it, out->ndim, out->shape, 2, ops);
  prior_strided_run(&it, fn, &ctx, 1);
  return PRIOR_OK;
}

/* ---- binary ---------------------------------------------------------------------------------------------- */

#define BINARY_LOOP(T, TO, EXPR)                                                         \
  do {                                                                                   \
    if (s[0] == (int64_t)sizeof(TO) && s[1] == (int64_t)sizeof(T) && s[2] == (int64_t)sizeof(T)) { \
      TO *o = (TO *)p[0];                                                                \
      const T *pa = (const T *)p[1], *pb = (const T *)p[2];                              \
      for (int64_t i = 0; i < n; i++) {                                                  \
        T a = pa[i], b = pb[i];                                                          \
        o[i] = (TO)(EXPR);                                                               \
      }                                                                                  \
    } else if (s[0] == (int64_t)sizeof(TO) && s[1] == (int64_t)sizeof(T) && s[2] == 0) { \
      TO *o = (TO *)p[0];                                                                \
      const T *pa = (const T *)p[1];                                                     \
      const T b = *(const T *)p[2];                                                      \
      for (int64_t i = 0; i < n; i++) {                                                  \
        T a = pa[i];                                                                     \
        o[i] = (TO)(EXPR);                                                               \
      }                                                                                  \
    } else {                                                                             \
      for (int64_t i = 0; i < n; i++) {                                                  \
        T a = *(const T *)(p[1] + i * s[1]), b = *(const T *)(p[2] + i * s[2]);         \
        *(TO *)(p[0] + i * s[0]) = (TO)(EXPR);                                           \
      }                                                                                  \
    }                                                                                    \
  } while (0)

#define DEFINE_BINARY_FLOAT(NAME, T, POW_FN, ONE_PLUS_ERF, EXP_FN)                             \
  static void NAME(char **p, const int64_t *s, int64_t n, void *vctx) {                  \
    switch (*(const int *)vctx) {                                                        \
      case PRIOR_BINARY_ADD: BINARY_LOOP(T, T, a + b); break;                            \
      case PRIOR_BINARY_SUB: BINARY_LOOP(T, T, a - b); break;                            \
      case PRIOR_BINARY_MUL: BINARY_LOOP(T, T, a * b); break;                            \
      case PRIOR_BINARY_DIV: BINARY_LOOP(T, T, a / b); break;                            \
      case PRIOR_BINARY_POW: BINARY_LOOP(T, T, POW_FN(a, b)); break;                     \
      case PRIOR_BINARY_MAXIMUM: BINARY_LOOP(T, T, (a >= b || a != a) ? a : b); break;   \
      case PRIOR_BINARY_MINIMUM: BINARY_LOOP(T, T, (a <= b || a != a) ? a : b); break;   \
      case PRIOR_BINARY_EQ: BINARY_LOOP(T, uint8_t, a == b); break;                      \
      case PRIOR_BINARY_NE: BINARY_LOOP(T, uint8_t, a != b); break;                      \
      case PRIOR_BINARY_LT: BINARY_LOOP(T, uint8_t, a < b); break;                       \
      case PRIOR_BINARY_LE: BINARY_LOOP(T, uint8_t, a <= b); break;                      \
      case PRIOR_BINARY_GT: BINARY_LOOP(T, uint8_t, a > b); break;                       \
      case PRIOR_BINARY_GE: BINARY_LOOP(T, uint8_t, a >= b); break;                      \
      case PRIOR_BINARY_RELU_BACKWARD: BINARY_LOOP(T, T, b > 0 ? a : (T)0); break;       \
      case PRIOR_BINARY_GELU_BACKWARD:                                                   \
        BINARY_LOOP(T, T, a * ((T)0.5 * ONE_PLUS_ERF(b * (T)INV_SQRT2) +              \
                               b * (T)INV_SQRT_2PI * EXP_FN((T)-0.5 * b * b)));          \
        break;                                                                           \
      case PRIOR_BINARY_SIGMOID_BACKWARD: BINARY_LOOP(T, T, a * b * ((T)1 - b)); break;  \
      case PRIOR_BINARY_TANH_BACKWARD: BINARY_LOOP(T, T, a * ((T)1 - b * b)); break;     \
      case PRIOR_BINARY_SIGN_MUL: BINARY_LOOP(T, T, a * (T)((b > 0) - (b < 0))); break;  \
    }                                                                                    \
  }

DEFINE_BINARY_FLOAT(binary_f32, float, powf, v1perff, vexpf)
DEFINE_BINARY_FLOAT(binary_f64, double, pow, one_plus_erf, exp)

#define DEFINE_BINARY_INT(NAME, T)                                                       \
  static void NAME(char **p, const int64_t *s, int64_t n, void *vctx) {                  \
    switch (*(const int *)vctx) {                                                        \
      case PRIOR_BINARY_ADD: BINARY_LOOP(T, T, a + b); break;                            \
      case PRIOR_BINARY_SUB: BINARY_LOOP(T, T, a - b); break;                            \
      case PRIOR_BINARY_MUL: BINARY_LOOP(T, T, a * b); break;                            \
      case PRIOR_BINARY_DIV: BINARY_LOOP(T, T, b != 0 ? a / b : 0); break;               \
      case PRIOR_BINARY_MAXIMUM: BINARY_LOOP(T, T, a >= b ? a : b); break;               \
      case PRIOR_BINARY_MINIMUM: BINARY_LOOP(T, T, a <= b ? a : b); break;               \
      case PRIOR_BINARY_EQ: BINARY_LOOP(T, uint8_t, a == b); break;                      \
      case PRIOR_BINARY_NE: BINARY_LOOP(T, uint8_t, a != b); break;                      \
      case PRIOR_BINARY_LT: BINARY_LOOP(T, uint8_t, a < b); break;                       \
      case PRIOR_BINARY_LE: BINARY_LOOP(T, uint8_t, a <= b); break;                      \
      case PRIOR_BINARY_GT: BINARY_LOOP(T, uint8_t, a > b); break;                       \
      case PRIOR_BINARY_GE: BINARY_LOOP(T, uint8_t, a >= b); break;                      \
    }                                                                                    \
  }

DEFINE_BINARY_INT(binary_i32, int32_t)
DEFINE_BINARY_INT(binary_i64, int64_t)
DEFINE_BINARY_INT(binary_u8, uint8_t)

static prior_status cpu_binary(prior_tensor *out, const prior_tensor *a, const prior_tensor *b, int op) {
  prior_strided_fn fn = NULL;
  int is_int = 0;
  switch (a->dtype) {
    case PRIOR_F32: fn = binary_f32; break;
    case PRIOR_F64: fn = binary_f64; break;
    case PRIOR_I32: fn = binary_i32, is_int = 1; break;
    case PRIOR_I64: fn = binary_i64, is_int = 1; break;
    case PRIOR_U8:
    case PRIOR_BOOL: fn = binary_u8, is_int = 1; break;
    default: break;
  }
  if (is_int && (op == PRIOR_BINARY_POW || op >= PRIOR_BINARY_RELU_BACKWARD)) fn = NULL;
  if (!fn || a->dtype != b->dtype)
    return prior_error_set(PRIOR_ERR_DTYPE, "binary op %d is not implemented for dtypes %s and %s on cpu", op,
                           prior_dtype_name(a->dtype), prior_dtype_name(b->dtype));
  prior_tensor *ops[3] = {out, (prior_tensor *)a, (prior_tensor *)b};
  prior_strided it;
  prior_strided_init(&it, out->ndim, out->shape, 3, ops);
  prior_strided_run(&it, fn, &op, 1);
  return PRIOR_OK;
}

/* ---- where ----------------------------------------------------------------------------------------------- */

static void where_loop(char **p, const int64_t *s, int64_t n, void *vctx) {
  size_t esize = *(const size_t *)vctx;
  for (int64_t i = 0; i < n; i++) {
    const char *src = *(const uint8_t *)(p[1] + i * s[1]) ? p[2] + i * s[2] : p[3] + i * s[3];
    char *dst = p[0] + i * s[0];
    for (size_t k = 0; k < esize; k++) dst[k] = src[k];
  }
}

static prior_status cpu_where(prior_tensor *out, const prior_tensor *cond, const prior_tensor *a,
                              const prior_tensor *b) {
  size_t esize = prior_dtype_size(out->dtype);
  prior_tensor *ops[4] = {out, (prior_tensor *)cond, (prior_tensor *)a, (prior_tensor *)b};
  prior_strided it;
  prior_strided_init(&it, out->ndim, out->shape, 4, ops);
  prior_strided_run(&it, where_loop, &esize, 1);
  return PRIOR_OK;
}

__attribute__((constructor)) static void register_cpu_elementwise(void) {
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "unary", (prior_kernel_fn)cpu_unary);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "binary", (prior_kernel_fn)cpu_binary);
  prior_backend_register_kernel(PRIOR_DEVICE_CPU, "where", (prior_kernel_fn)cpu_where);
}
