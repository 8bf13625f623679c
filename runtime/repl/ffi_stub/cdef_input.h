/* Input of the ffi.cdef generator: the public API with nothing from the system headers.
 * LuaJIT's FFI already knows size_t, intN_t and uintN_t, so the stub stddef.h/stdint.h next to this file are
 * empty; attributes are for C compilers only. */
#define __attribute__(x)
#include "prior/prior.h"
