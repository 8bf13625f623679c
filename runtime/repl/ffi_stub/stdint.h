/* Empty on purpose: LuaJIT's FFI predefines the standard integer and size types. */
