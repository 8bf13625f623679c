/* The prior executable's internal interface: running Lua code with Ctrl-C handling, line editing, the REPL. */
#ifndef PRIOR_REPL_REPL_H
#define PRIOR_REPL_REPL_H

#include <lua.h>

/* ---- sigint.c: Ctrl-C ------------------------------------------------------------------------------------ */
/* Installs the SIGINT handler for state L. While a command runs, Ctrl-C sets a count hook that raises the Lua
 * error "interrupted" and raises the C flag (prior_interrupt_raise) so long C loops stop at a safe point. At the
 * prompt it only records the press, which the line reader turns into "clear the line". */
void prior_sigint_install(lua_State *L);
void prior_sigint_begin_command(void);
/* Clears the hook, the C flag and the press counter. */
void prior_sigint_end_command(lua_State *L);
/* Returns 1 (and forgets it) when Ctrl-C was pressed while no command was running. */
int prior_sigint_take_prompt_press(void);

/* ---- run.c: protected calls ------------------------------------------------------------------------------ */
/* Calls the function below the nargs arguments on the stack with a traceback handler and Ctrl-C armed.
 * Returns the lua_pcall status; on error the message (with traceback) is left on the stack. */
int prior_run_pcall(lua_State *L, int nargs, int nresults);
/* Runs a file (NULL: standard input) with argv as its `...`, or a string; prints "prior: message +
 * traceback" to stderr on error and returns non-zero. */
int prior_run_file(lua_State *L, const char *path, int argc, char **argv);
int prior_run_string(lua_State *L, const char *code, const char *chunkname);

/* ---- lineedit.c: GNU Readline -------------------------------------------------------------------------- */
/* Loads history from `history_path` (may be NULL) and installs TAB completion backed by the Lua function
 * prior.repl.complete, if it is loadable. */
void prior_lineedit_init(lua_State *L, const char *history_path);
/* Reads one line (malloc'd, without newline). NULL at end of input; then *interrupted says whether it was
 * Ctrl-C (clear the pending input and prompt again) rather than Ctrl-D. */
char *prior_lineedit_read(const char *prompt, int *interrupted);
/* Adds an entered command to the history and appends it to the history file. */
void prior_lineedit_add_history(const char *entry);
void prior_lineedit_close(void);

/* ---- repl.c ---------------------------------------------------------------------------------------------- */
/* The interactive loop; returns the process exit status. */
int prior_repl(lua_State *L);

#endif
