/* Ctrl-C handling shared by script mode and the REPL.
 *
 * A signal handler may not call into Lua, but it may set a hook (as the stand-alone luajit does): the count
 * hook fires at the next Lua instruction and raises "interrupted" from there, which unwinds to the REPL's
 * pcall with the Lua state intact. C kernels never see the hook, so the handler also raises the runtime's
 * interrupt flag, which long C loops poll (prior_interrupt_check) and the Lua binding checks after every call.
 * A third press before the first was handled ends the process: something is stuck where neither can see. */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>

#include "prior/error.h"
#include "repl/repl.h"

static lua_State *g_state;
static volatile sig_atomic_t g_running;
static volatile sig_atomic_t g_prompt_press;
static volatile sig_atomic_t g_presses;

static void interrupt_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  g_presses = 0;
  prior_interrupt_clear();
  lua_pushliteral(L, "interrupted");
  lua_error(L);
}

static void on_sigint(int sig) {
  (void)sig;
  if (!g_running) {
    g_prompt_press = 1;
    return;
  }
  prior_interrupt_raise();
  lua_sethook(g_state, interrupt_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
  if (++g_presses >= 3) {
    static const char msg[] = "\nprior: interrupt not handled after three presses; exiting\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    _exit(130);
  }
}

void prior_sigint_install(lua_State *L) {
  g_state = L;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART: a blocked select() in the line reader must wake up */
  sigaction(SIGINT, &sa, NULL);
}

void prior_sigint_begin_command(void) {
  g_presses = 0;
  g_running = 1;
}

void prior_sigint_end_command(lua_State *L) {
  g_running = 0;
  lua_sethook(L, NULL, 0, 0);
  prior_interrupt_clear();
  g_presses = 0;
}

int prior_sigint_take_prompt_press(void) {
  if (!g_prompt_press) return 0;
  g_prompt_press = 0;
  return 1;
}
