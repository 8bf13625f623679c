/* The backend dispatch table: kernels registered by name per device type. */
#include "prior/device.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KERNEL_TABLE_SIZE 1024 /* open addressing; a few hundred kernels per backend at most */

typedef struct kernel_entry {
  const char *op;
  prior_kernel_fn fn;
} kernel_entry;

static kernel_entry kernel_table[PRIOR_DEVICE_TYPE_COUNT][KERNEL_TABLE_SIZE];
static const prior_backend_memory *memory_table[PRIOR_DEVICE_TYPE_COUNT];
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

static uint32_t hash_name(const char *s) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
  return h;
}

prior_device prior_cpu(void) {
  prior_device d = {PRIOR_DEVICE_CPU, 0};
  return d;
}

int prior_device_equal(prior_device a, prior_device b) { return a.type == b.type && a.index == b.index; }

const char *prior_device_name(prior_device d) {
  static _Thread_local char buf[32];
  if (d.type == PRIOR_DEVICE_CPU) return "cpu";
  if (d.type == PRIOR_DEVICE_CUDA) {
    snprintf(buf, sizeof buf, "cuda:%d", (int)d.index);
    return buf;
  }
  return "unknown-device";
}

prior_status prior_device_parse(const char *text, prior_device *out) {
  if (!text || !out) return prior_error_set(PRIOR_ERR_ARGUMENT, "device name is NULL");
  if (strcmp(text, "cpu") == 0) {
    *out = prior_cpu();
    return PRIOR_OK;
  }
  if (strncmp(text, "cuda", 4) == 0) {
    int index = 0;
    if (text[4] == ':') {
      char *end;
      long v = strtol(text + 5, &end, 10);
      if (*end || v < 0 || v > 1024) return prior_error_set(PRIOR_ERR_ARGUMENT, "bad device name '%s'", text);
      index = (int)v;
    } else if (text[4]) {
      return prior_error_set(PRIOR_ERR_ARGUMENT, "bad device name '%s' (expected cpu, cuda or cuda:N)", text);
    }
    out->type = PRIOR_DEVICE_CUDA;
    out->index = index;
    return PRIOR_OK;
  }
  return prior_error_set(PRIOR_ERR_ARGUMENT, "bad device name '%s' (expected cpu, cuda or cuda:N)", text);
}

void prior_backend_register_memory(prior_device_type type, const prior_backend_memory *memory) {
  PRIOR_ASSERT(type >= 0 && type < PRIOR_DEVICE_TYPE_COUNT);
  memory_table[type] = memory;
}

void prior_backend_register_kernel(prior_device_type type, const char *op, prior_kernel_fn fn) {
  PRIOR_ASSERT(type >= 0 && type < PRIOR_DEVICE_TYPE_COUNT && op && fn);
  pthread_mutex_lock(&registry_lock);
  uint32_t h = hash_name(op);
  for (uint32_t probe = 0; probe < KERNEL_TABLE_SIZE; probe++) {
    kernel_entry *e = &kernel_table[type][(h + probe) % KERNEL_TABLE_SIZE];
    if (!e->op || strcmp(e->op, op) == 0) {
      e->op = op;
      e->fn = fn;
      pthread_mutex_unlock(&registry_lock);
      return;
    }
  }
  pthread_mutex_unlock(&registry_lock);
  PRIOR_ASSERT(!"kernel table full");
}

const prior_backend_memory *prior_backend_memory_of(prior_device_type type) {
  return (type >= 0 && type < PRIOR_DEVICE_TYPE_COUNT) ? memory_table[type] : NULL;
}

prior_kernel_fn prior_backend_kernel(prior_device_type type, const char *op) {
  if (type < 0 || type >= PRIOR_DEVICE_TYPE_COUNT || !op) return NULL;
  uint32_t h = hash_name(op);
  for (uint32_t probe = 0; probe < KERNEL_TABLE_SIZE; probe++) {
    const kernel_entry *e = &kernel_table[type][(h + probe) % KERNEL_TABLE_SIZE];
    if (!e->op) return NULL;
    if (strcmp(e->op, op) == 0) return e->fn;
  }
  return NULL;
}

int prior_backend_supports(prior_device_type type, const char *op) { return prior_backend_kernel(type, op) != NULL; }

int prior_device_count(prior_device_type type) {
  if (type == PRIOR_DEVICE_CPU) return 1;
  if (type < 0 || type >= PRIOR_DEVICE_TYPE_COUNT || !memory_table[type]) return 0;
  return memory_table[type]->device_count ? memory_table[type]->device_count() : 1;
}
