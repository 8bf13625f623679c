/* Open addressing with linear probing and FNV-1a hashes; grows at half load. */
#include "data/strmap.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

void prior_strmap_init(prior_strmap *m) { memset(m, 0, sizeof *m); }

void prior_strmap_free(prior_strmap *m) {
  for (int64_t i = 0; i < m->cap; i++) free(m->keys[i]);
  free(m->keys);
  free(m->values);
  memset(m, 0, sizeof *m);
}

static int64_t find_slot(char *const *keys, int64_t cap, const char *key) {
  int64_t i = (int64_t)(hash_str(key) & (uint64_t)(cap - 1));
  while (keys[i] && strcmp(keys[i], key) != 0) i = (i + 1) & (cap - 1);
  return i;
}

int prior_strmap_get(const prior_strmap *m, const char *key, int64_t *value) {
  if (m->cap == 0) return 0;
  int64_t i = find_slot(m->keys, m->cap, key);
  if (!m->keys[i]) return 0;
  if (value) *value = m->values[i];
  return 1;
}

static prior_status grow(prior_strmap *m) {
  int64_t ncap = m->cap ? m->cap * 2 : 64;
  char **nk = calloc((size_t)ncap, sizeof *nk);
  int64_t *nv = malloc((size_t)ncap * sizeof *nv);
  if (!nk || !nv) {
    free(nk);
    free(nv);
    return prior_error_set(PRIOR_ERR_MEMORY, "id table: out of memory growing to %lld slots", (long long)ncap);
  }
  for (int64_t i = 0; i < m->cap; i++) {
    if (!m->keys[i]) continue;
    int64_t j = find_slot(nk, ncap, m->keys[i]);
    nk[j] = m->keys[i];
    nv[j] = m->values[i];
  }
  free(m->keys);
  free(m->values);
  m->keys = nk;
  m->values = nv;
  m->cap = ncap;
  return PRIOR_OK;
}

prior_status prior_strmap_put(prior_strmap *m, const char *key, int64_t value) {
  if ((m->count + 1) * 2 > m->cap) PRIOR_TRY(grow(m));
  int64_t i = find_slot(m->keys, m->cap, key);
  if (!m->keys[i]) {
    m->keys[i] = strdup(key);
    if (!m->keys[i]) return prior_error_set(PRIOR_ERR_MEMORY, "id table: out of memory");
    m->count++;
  }
  m->values[i] = value;
  return PRIOR_OK;
}
