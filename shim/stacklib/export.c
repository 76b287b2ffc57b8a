/* Linked into the stack library (build/libdemi-stack.so), not into
 * libdemi.so: its one exported name, the table of the calls the shim makes
 * into the stack and the runtime (shim/stackapi.def), which the shim's
 * loader (shim/stackload.c) takes with one dlsym. */
#include "stackapi.h"

__attribute__((visibility("default"))) const struct stack_api demi_stack_api = {
	.size = sizeof(struct stack_api),
#define API(n) .n = n,
#include "stackapi.def"
#undef API
};
