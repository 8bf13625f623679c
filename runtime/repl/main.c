/* The prior executable, minimal form: `prior FILE.lua [args...]` runs a script with `arg` set. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <string.h>

static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0) {
    printf("usage: prior FILE.lua [args...]\n");
    return argc < 2 ? 2 : 0;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("prior %s (cpu)\n", PRIOR_VERSION);
    return 0;
  }
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  lua_newtable(L);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - 1);
  }
  lua_setglobal(L, "arg");
  /* Lua modules come from the source tree (a build run in place) and then from the install prefix. */
  luaL_dostring(L, "package.path = '" PRIOR_SOURCE_LUA_DIR "/?.lua;" PRIOR_SOURCE_LUA_DIR "/?/init.lua;"
                   PRIOR_INSTALL_LUA_DIR "/?.lua;" PRIOR_INSTALL_LUA_DIR "/?/init.lua;' .. package.path");
  lua_pushcfunction(L, traceback);
  if (luaL_loadfile(L, argv[1]) != 0) {
    fprintf(stderr, "prior: %s\n", lua_tostring(L, -1));
    return 1;
  }
  int status = lua_pcall(L, 0, 0, -2);
  if (status != 0) fprintf(stderr, "prior: %s\n", lua_tostring(L, -1));
  lua_close(L);
  return status ? 1 : 0;
}
