/* The prior executable: the REPL when run bare, a script runner otherwise.
 *
 *   prior                      the REPL
 *   prior FILE.lua [args...]   runs FILE with `arg` set (arg[0] = FILE, arg[1..] = args)
 *   prior -e 'code' ...        runs code (several -e run in order), then exits unless -i is given
 *   prior -i FILE.lua [args]   runs FILE, then opens the REPL
 *   prior - [args]             runs the script read from standard input */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <luajit.h>
#include <lualib.h>

#include "prior/device.h"
#include "prior/error.h"
#include "repl/repl.h"

#ifndef PRIOR_BUILD_LUA_DIR
#define PRIOR_BUILD_LUA_DIR PRIOR_SOURCE_LUA_DIR
#endif

static void usage(FILE *out) {
  fprintf(out,
          "usage: prior [options] [FILE.lua [args...]]\n"
          "  (no FILE)        open the interactive REPL\n"
          "  FILE.lua args    run a Lua script; `arg` holds its arguments\n"
          "  -                run a script read from standard input\n"
          "  -e CODE          run CODE (may be repeated); exit afterwards unless -i\n"
          "  -i               open the REPL after running FILE or -e code\n"
          "  -v, --version    print the version and whether the build has CUDA\n"
          "  -h, --help       print this help\n"
          "environment: PRIOR_HISTORY  REPL history file (default ~/.prior_history; empty: none)\n");
}

static const char *cuda_text(void) {
#ifdef PRIOR_WITH_CUDA
  static char buf[64];
  snprintf(buf, sizeof buf, "cuda, %d device(s) visible", prior_device_count(PRIOR_DEVICE_CUDA));
  return buf;
#else
  return "cpu only";
#endif
}

/* The build facts the Lua side reads: version, CUDA, where the generated files and the docs live. */
static void set_build_table(lua_State *L) {
  char banner[160];
  snprintf(banner, sizeof banner, "prior %s (%s) on %s", PRIOR_VERSION, cuda_text(), LUAJIT_VERSION);
  lua_newtable(L);
  lua_pushstring(L, PRIOR_VERSION);
  lua_setfield(L, -2, "version");
#ifdef PRIOR_WITH_CUDA
  lua_pushboolean(L, 1);
#else
  lua_pushboolean(L, 0);
#endif
  lua_setfield(L, -2, "cuda");
  lua_pushstring(L, banner);
  lua_setfield(L, -2, "banner");
  lua_pushstring(L, PRIOR_SOURCE_LUA_DIR "/..");
  lua_setfield(L, -2, "source_dir");
  lua_newtable(L);
  lua_pushstring(L, PRIOR_SOURCE_DOC_DIR "/lua-api.md");
  lua_rawseti(L, -2, 1);
  lua_pushstring(L, PRIOR_INSTALL_DOC_DIR "/lua-api.md");
  lua_rawseti(L, -2, 2);
  lua_setfield(L, -2, "doc_files");
  lua_setglobal(L, "PRIOR_BUILD");
}

static void set_paths(lua_State *L) {
  /* Source tree first (a build run in place), then the generated files of this build, then the install prefix. */
  luaL_dostring(L, "package.path = '" PRIOR_SOURCE_LUA_DIR "/?.lua;" PRIOR_SOURCE_LUA_DIR "/?/init.lua;"
                   PRIOR_BUILD_LUA_DIR "/?.lua;" PRIOR_INSTALL_LUA_DIR "/?.lua;" PRIOR_INSTALL_LUA_DIR
                   "/?/init.lua;' .. package.path");
}

/* arg[0] is the script, arg[1..] its arguments, arg[-1..] the executable and options (as lua does);
 * without a script arg[0] is the executable. */
static void set_arg(lua_State *L, int argc, char **argv, int script_index) {
  lua_newtable(L);
  for (int i = 0; i < (script_index < 0 ? 1 : argc); i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, script_index < 0 ? 0 : i - script_index);
  }
  lua_setglobal(L, "arg");
}

/* Makes `prior` a global for the REPL and -e; a script that fails to load it sees the error from require. */
static void load_prior(lua_State *L, int verbose) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "prior");
  if (lua_pcall(L, 1, 1, 0) != 0) {
    if (verbose) fprintf(stderr, "prior: the Lua module 'prior' did not load: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    return;
  }
  lua_setglobal(L, "prior");
}

int main(int argc, char **argv) {
  int interactive = 0, n_exec = 0, script = -1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
      printf("prior %s (%s) on %s\n", PRIOR_VERSION, cuda_text(), LUAJIT_VERSION);
      return 0;
    } else if (strcmp(a, "-i") == 0) {
      interactive = 1;
    } else if (strcmp(a, "-e") == 0) {
      if (i + 1 >= argc) {
        fprintf(stderr, "prior: -e needs an argument\n");
        usage(stderr);
        return 2;
      }
      n_exec++;
      i++;
    } else if (a[0] == '-' && a[1] != '\0') {
      fprintf(stderr, "prior: unknown option '%s'\n", a);
      usage(stderr);
      return 2;
    } else {
      script = i;
      break;
    }
  }

  lua_State *L = luaL_newstate();
  if (L == NULL) {
    fprintf(stderr, "prior: could not create the Lua state (out of memory)\n");
    return 1;
  }
  luaL_openlibs(L);
  set_build_table(L);
  set_paths(L);
  set_arg(L, argc, argv, script);
  prior_sigint_install(L);
  load_prior(L, script < 0);

  int status = 0;
  for (int i = 1; i < (script < 0 ? argc : script) && status == 0; i++)
    if (strcmp(argv[i], "-e") == 0) status = prior_run_string(L, argv[++i], "=(command line)");
  if (status == 0 && script >= 0) {
    const char *path = strcmp(argv[script], "-") == 0 ? NULL : argv[script];
    status = prior_run_file(L, path, argc - script - 1, argv + script + 1);
  }
  if (interactive || (status == 0 && script < 0 && n_exec == 0)) status = prior_repl(L) || status;
  lua_close(L);
  return status ? 1 : 0;
}
