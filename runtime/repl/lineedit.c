/* Line editing through GNU Readline's callback interface.
 *
 * The callback interface lets the reader wait in select(), so Ctrl-C at the prompt (a signal that interrupts
 * select) clears the line instead of being queued or killing the process. TAB completion asks the Lua
 * function prior.repl.complete for candidates, which walks tables and metatables. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <lauxlib.h>
#include <readline/history.h>
#include <readline/readline.h>

#include "repl/repl.h"

#define HISTORY_MAX_ENTRIES 2000

static lua_State *g_state;
static char *g_history_path;
static char *g_line;
static int g_line_done;

/* ---- completion ------------------------------------------------------------------------------------------ */
static char **g_candidates;
static int g_n_candidates;

static void candidates_clear(void) {
  for (int i = 0; i < g_n_candidates; i++) free(g_candidates[i]);
  free(g_candidates);
  g_candidates = NULL;
  g_n_candidates = 0;
}

/* Fills g_candidates from prior.repl.complete(text); errors in Lua leave the list empty. */
static void candidates_fill(const char *text) {
  candidates_clear();
  lua_State *L = g_state;
  int top = lua_gettop(L);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "prior.repl");
  if (lua_pcall(L, 1, 1, 0) != 0 || !lua_istable(L, -1)) goto done;
  lua_getfield(L, -1, "complete");
  lua_pushstring(L, text);
  if (lua_pcall(L, 1, 1, 0) != 0 || !lua_istable(L, -1)) goto done;
  int n = (int)lua_objlen(L, -1);
  g_candidates = calloc((size_t)n + 1, sizeof *g_candidates);
  if (g_candidates == NULL) goto done;
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, -1, i);
    const char *s = lua_tostring(L, -1);
    if (s != NULL) g_candidates[g_n_candidates++] = strdup(s);
    lua_pop(L, 1);
  }
done:
  lua_settop(L, top);
}

static char *candidate_generator(const char *text, int state) {
  static int next;
  if (state == 0) {
    candidates_fill(text);
    next = 0;
  }
  if (next < g_n_candidates) return strdup(g_candidates[next++]);
  return NULL;
}

static char **complete(const char *text, int start, int end) {
  (void)start;
  (void)end;
  rl_attempted_completion_over = 1; /* never fall back to file names */
  rl_completion_append_character = '\0';
  return rl_completion_matches(text, candidate_generator);
}

/* ---- history --------------------------------------------------------------------------------------------- */
void prior_lineedit_init(lua_State *L, const char *history_path) {
  g_state = L;
  rl_readline_name = "prior";
  rl_catch_signals = 0; /* our handler owns SIGINT */
  rl_attempted_completion_function = complete;
  /* '.' and ':' are part of a word, so `prior.nn.Li` and `t:si` complete as a whole. */
  rl_completer_word_break_characters = " \t\n\"'`><=;+-*/%^~#&|{}()[],";
  using_history();
  stifle_history(HISTORY_MAX_ENTRIES);
  if (history_path != NULL) {
    g_history_path = strdup(history_path);
    read_history(g_history_path);
  }
}

void prior_lineedit_add_history(const char *entry) {
  if (entry == NULL || entry[0] == '\0') return;
  HIST_ENTRY *last = history_length > 0 ? history_get(history_base + history_length - 1) : NULL;
  if (last != NULL && strcmp(last->line, entry) == 0) return;
  add_history(entry);
  if (g_history_path == NULL) return;
  /* Append right away so a killed session keeps what was typed; create the file on first use. */
  if (access(g_history_path, F_OK) != 0) write_history(g_history_path);
  else append_history(1, g_history_path);
}

void prior_lineedit_close(void) {
  if (g_history_path != NULL) history_truncate_file(g_history_path, HISTORY_MAX_ENTRIES);
  free(g_history_path);
  g_history_path = NULL;
  candidates_clear();
}

/* ---- reading --------------------------------------------------------------------------------------------- */
static void on_line(char *line) {
  g_line = line;
  g_line_done = 1;
  rl_callback_handler_remove();
}

char *prior_lineedit_read(const char *prompt, int *interrupted) {
  *interrupted = 0;
  g_line = NULL;
  g_line_done = 0;
  prior_sigint_take_prompt_press(); /* a press from before this prompt is stale */
  rl_callback_handler_install(prompt, on_line);
  int fd = fileno(rl_instream != NULL ? rl_instream : stdin);
  while (!g_line_done) {
    /* Readline inserts typed-ahead characters in a batch and keeps the key that ended the batch (often the
     * Enter of the next line) as pending input: handle it now, the descriptor will not signal it again. */
    if (rl_pending_input) {
      rl_callback_read_char();
      continue;
    }
    fd_set fds;
    FD_ZERO(&fds);
    FD_SET(fd, &fds);
    int r = select(fd + 1, &fds, NULL, NULL, NULL);
    if (prior_sigint_take_prompt_press()) {
      /* Ctrl-C: drop what was typed, end the line on screen, prompt again. */
      rl_replace_line("", 0);
      rl_callback_sigcleanup();
      rl_callback_handler_remove();
      fputs("\n", stdout);
      fflush(stdout);
      *interrupted = 1;
      return NULL;
    }
    if (r < 0) {
      if (errno == EINTR) continue;
      rl_callback_handler_remove();
      return NULL;
    }
    rl_callback_read_char();
  }
  return g_line;
}
