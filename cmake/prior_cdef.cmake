# Turns the preprocessed public headers (IN) into a Lua module (OUT) that returns the ffi.cdef text.
# Run as: cmake -DIN=... -DOUT=... -P prior_cdef.cmake
file(READ ${IN} text)
# Leftover directives (#pragma, line markers) and blank runs are not C declarations.
string(REGEX REPLACE "(^|\n)#[^\n]*" "\\1" text "${text}")
string(REGEX REPLACE "__attribute__ *\\(\\([^;]*\\)\\)" "" text "${text}")
string(REGEX REPLACE "\n[ \t]*\n+" "\n" text "${text}")
file(WRITE ${OUT}.tmp "-- Generated from runtime/include/prior/prior.h at build time; do not edit.\nreturn [==[\n${text}\n]==]\n")
file(RENAME ${OUT}.tmp ${OUT})
