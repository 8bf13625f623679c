/* dtype names, sizes and the half-precision conversions. */
#include "prior/dtype.h"

#include "core/bf16.h"

#include <string.h>

static const struct {
  const char *name;
  size_t size;
  int floating;
} dtype_info[PRIOR_DTYPE_COUNT] = {
    [PRIOR_F32] = {"f32", 4, 1}, [PRIOR_F64] = {"f64", 8, 1},  [PRIOR_I32] = {"i32", 4, 0},
    [PRIOR_I64] = {"i64", 8, 0}, [PRIOR_U8] = {"u8", 1, 0},    [PRIOR_BOOL] = {"bool", 1, 0},
    [PRIOR_BF16] = {"bf16", 2, 1}, [PRIOR_F16] = {"f16", 2, 1},
};

int prior_dtype_valid(int dtype) { return dtype >= 0 && dtype < PRIOR_DTYPE_COUNT; }
size_t prior_dtype_size(prior_dtype d) { return prior_dtype_valid(d) ? dtype_info[d].size : 0; }
const char *prior_dtype_name(prior_dtype d) { return prior_dtype_valid(d) ? dtype_info[d].name : "invalid"; }
int prior_dtype_is_floating(prior_dtype d) { return prior_dtype_valid(d) && dtype_info[d].floating; }

int prior_dtype_from_name(const char *name) {
  static const struct {
    const char *alias;
    prior_dtype dtype;
  } aliases[] = {
      {"f32", PRIOR_F32},  {"float32", PRIOR_F32}, {"float", PRIOR_F32},   {"f64", PRIOR_F64},
      {"float64", PRIOR_F64}, {"double", PRIOR_F64}, {"i32", PRIOR_I32},  {"int32", PRIOR_I32},
      {"int", PRIOR_I32},  {"i64", PRIOR_I64},     {"int64", PRIOR_I64},   {"long", PRIOR_I64},
      {"u8", PRIOR_U8},    {"uint8", PRIOR_U8},    {"byte", PRIOR_U8},     {"bool", PRIOR_BOOL},
      {"bf16", PRIOR_BF16}, {"bfloat16", PRIOR_BF16}, {"f16", PRIOR_F16}, {"float16", PRIOR_F16},
      {"half", PRIOR_F16},
  };
  if (!name) return -1;
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (strcmp(name, aliases[i].alias) == 0) return aliases[i].dtype;
  return -1;
}

float prior_bf16_to_f32(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

uint16_t prior_f32_to_bf16(float f) { return prior_bf16_round(f); }

float prior_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else { /* subnormal: normalise */
      exp = 127 - 15 + 1;
      while (!(mant & 0x400u)) {
        mant <<= 1;
        exp--;
      }
      bits = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

uint16_t prior_f32_to_f16(float f) {
  uint32_t bits;
  memcpy(&bits, &f, 4);
  uint32_t sign = (bits >> 16) & 0x8000u;
  int32_t exp = (int32_t)((bits >> 23) & 0xffu) - 127 + 15;
  uint32_t mant = bits & 0x7fffffu;
  if (((bits >> 23) & 0xffu) == 0xffu) return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0));
  if (exp >= 31) return (uint16_t)(sign | 0x7c00u);
  if (exp <= 0) {
    if (exp < -10) return (uint16_t)sign;
    mant |= 0x800000u;
    uint32_t shift = (uint32_t)(14 - exp);
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1u))) half++;
    return (uint16_t)(sign | half);
  }
  uint32_t half = sign | ((uint32_t)exp << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) half++;
  return (uint16_t)half;
}
