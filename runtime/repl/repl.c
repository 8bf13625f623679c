/* The interactive loop: `prior> ` prompt, `..> ` continuation, auto-print, `?name` help, `$ cmd` shell.
 *
 * Each command is compiled first as `return <input>` so expressions print their value (a trailing `;`
 * suppresses the print); when that fails it is compiled as statements, and a syntax error at '<eof>' means
 * the chunk is incomplete and the next line continues it. Commands run with the JIT off for their own code
 * (jit.off(fn, true)): the interpreter honours the Ctrl-C hook everywhere, while library code stays compiled. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lauxlib.h>

#include "repl/repl.h"

#define SLOW_COMMAND_SECONDS 1.0

typedef struct chunk {
  char *text;
  size_t len, cap;
} chunk;

static void chunk_append(chunk *c, const char *s) {
  size_t n = strlen(s);
  if (c->len + n + 2 > c->cap) {
    size_t cap = (c->len + n + 2) * 2;
    char *p = realloc(c->text, cap);
    if (p == NULL) return; /* keep what we had; the command will be incomplete or wrong, not a crash */
    c->text = p;
    c->cap = cap;
  }
  if (c->len > 0) c->text[c->len++] = '\n';
  memcpy(c->text + c->len, s, n);
  c->len += n;
  c->text[c->len] = '\0';
}

static void chunk_reset(chunk *c) {
  c->len = 0;
  if (c->text != NULL) c->text[0] = '\0';
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Calls prior.repl.<name>(args...) if the helper module loads; returns 0 when it did. */
static int call_helper(lua_State *L, const char *name, int nargs) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "prior.repl");
  if (lua_pcall(L, 1, 1, 0) != 0 || !lua_istable(L, -1)) {
    lua_pop(L, 1 + nargs);
    return -1;
  }
  lua_getfield(L, -1, name);
  lua_remove(L, -2);
  lua_insert(L, -1 - nargs);
  if (prior_run_pcall(L, nargs, 0) != 0) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  return 0;
}

static void print_results(lua_State *L, int base) {
  int n = lua_gettop(L) - base;
  if (n == 0) return;
  lua_pushinteger(L, n);
  lua_insert(L, base + 1);
  if (call_helper(L, "print_results", n + 1) == 0) return;
  /* Without the helper: plain tostring of each value. */
  lua_settop(L, base);
}

static int ends_with_semicolon(const char *s) {
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n')) n--;
  return n > 0 && s[n - 1] == ';';
}

static int is_incomplete(lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  size_t n = msg ? strlen(msg) : 0;
  return n >= 7 && strcmp(msg + n - 7, "'<eof>'") == 0;
}

/* Compiles the pending chunk. Returns 0 with the function on the stack, 1 when it needs more lines, -1 on a
 * syntax error (message on the stack). */
static int compile(lua_State *L, const char *text) {
  size_t n = strlen(text);
  char *ret = malloc(n + 8);
  if (ret != NULL) {
    memcpy(ret, "return ", 7);
    memcpy(ret + 7, text, n + 1);
    int status = luaL_loadbuffer(L, ret, n + 7, "=stdin");
    free(ret);
    if (status == 0) return 0;
    lua_pop(L, 1);
  }
  if (luaL_loadbuffer(L, text, n, "=stdin") == 0) return 0;
  if (is_incomplete(L)) {
    lua_pop(L, 1);
    return 1;
  }
  return -1;
}

/* jit.off(fn, true) on the function at the top of the stack, when the jit module is present. */
static void jit_off(lua_State *L) {
  lua_getglobal(L, "jit");
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    return;
  }
  lua_getfield(L, -1, "off");
  lua_remove(L, -2);
  lua_pushvalue(L, -2);
  lua_pushboolean(L, 1);
  if (lua_pcall(L, 2, 0, 0) != 0) lua_pop(L, 1);
}

static void execute(lua_State *L, const char *text) {
  int base = lua_gettop(L) - 1; /* the compiled function is on top */
  jit_off(L);
  double t0 = now_seconds();
  int status = prior_run_pcall(L, 0, LUA_MULTRET);
  if (status != 0) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    fflush(stderr);
    lua_settop(L, base);
  } else {
    if (ends_with_semicolon(text)) lua_settop(L, base);
    else print_results(L, base);
  }
  lua_settop(L, base);
  double dt = now_seconds() - t0;
  if (dt > SLOW_COMMAND_SECONDS) printf("(%.2f s)\n", dt);
  fflush(stdout);
}

static void help(lua_State *L, const char *name) {
  while (*name == ' ' || *name == '\t') name++;
  lua_pushstring(L, name);
  if (call_helper(L, "help", 1) != 0) printf("no documentation: the prior Lua modules could not be loaded\n");
  fflush(stdout);
}

static char *read_plain(void) {
  static char buf[65536];
  if (fgets(buf, sizeof buf, stdin) == NULL) return NULL;
  buf[strcspn(buf, "\n")] = '\0';
  return strdup(buf);
}

static char *history_path(void) {
  const char *env = getenv("PRIOR_HISTORY");
  if (env != NULL) return env[0] ? strdup(env) : NULL; /* PRIOR_HISTORY= (empty) turns history off */
  const char *home = getenv("HOME");
  if (home == NULL) return NULL;
  size_t n = strlen(home) + 32;
  char *p = malloc(n);
  if (p != NULL) snprintf(p, n, "%s/.prior_history", home);
  return p;
}

int prior_repl(lua_State *L) {
  int tty = isatty(STDIN_FILENO);
  if (tty) {
    char *hist = history_path();
    prior_lineedit_init(L, hist);
    free(hist);
    lua_getglobal(L, "PRIOR_BUILD");
    lua_getfield(L, -1, "banner");
    printf("%s\n", lua_tostring(L, -1) ? lua_tostring(L, -1) : "prior");
    lua_pop(L, 2);
    printf("  ?name shows documentation, $ cmd runs a shell command, Ctrl-C interrupts, Ctrl-D exits.\n");
  }
  chunk c = {0};
  for (;;) {
    int interrupted = 0;
    char *line = tty ? prior_lineedit_read(c.len ? "..> " : "prior> ", &interrupted) : read_plain();
    if (line == NULL) {
      if (interrupted) {
        chunk_reset(&c);
        continue;
      }
      if (tty) putchar('\n');
      break;
    }
    if (c.len == 0) {
      const char *p = line + strspn(line, " \t");
      if (*p == '\0') {
        free(line);
        continue;
      }
      if (*p == '?' || *p == '$') {
        if (tty) prior_lineedit_add_history(p);
        if (*p == '?') help(L, p + 1);
        else {
          fflush(stdout);
          int rc = system(p + 1);
          if (rc != 0) printf("(exit status %d)\n", WIFEXITED(rc) ? WEXITSTATUS(rc) : rc);
        }
        free(line);
        continue;
      }
    }
    chunk_append(&c, line);
    free(line);
    int r = compile(L, c.text);
    if (r == 1) continue;
    if (tty) prior_lineedit_add_history(c.text);
    if (r < 0) {
      fprintf(stderr, "%s\n", lua_tostring(L, -1));
      lua_pop(L, 1);
    } else {
      execute(L, c.text);
    }
    chunk_reset(&c);
  }
  if (tty) prior_lineedit_close();
  free(c.text);
  return 0;
}
