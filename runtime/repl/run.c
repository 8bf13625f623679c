/* Protected calls with a traceback, used by script mode, -e and the REPL. */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "repl/repl.h"

static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    /* A non-string error object: use its __tostring when it has one. */
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) msg = lua_tostring(L, -1);
    else msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

int prior_run_pcall(lua_State *L, int nargs, int nresults) {
  int base = lua_gettop(L) - nargs;
  lua_pushcfunction(L, traceback);
  lua_insert(L, base);
  prior_sigint_begin_command();
  int status = lua_pcall(L, nargs, nresults, base);
  prior_sigint_end_command(L);
  lua_remove(L, base);
  return status;
}

static int report(lua_State *L, int status) {
  if (status != 0) {
    fprintf(stderr, "prior: %s\n", lua_tostring(L, -1));
    fflush(stderr);
    lua_pop(L, 1);
  }
  return status;
}

int prior_run_file(lua_State *L, const char *path, int argc, char **argv) {
  int status = luaL_loadfile(L, path); /* NULL path: standard input */
  if (status == 0) {
    for (int i = 0; i < argc; i++) lua_pushstring(L, argv[i]);
    status = prior_run_pcall(L, argc, 0);
  }
  return report(L, status);
}

int prior_run_string(lua_State *L, const char *code, const char *chunkname) {
  int status = luaL_loadbuffer(L, code, strlen(code), chunkname);
  if (status == 0) status = prior_run_pcall(L, 0, 0);
  return report(L, status);
}
