/* Linked into a preload built without a stack library
 * (build/asan/libdemi-nort.so): stackload.c then never looks for one, the
 * runtime never starts and every bypassed socket falls back as configured,
 * with "no runtime in this build of libdemi". */
#include "stackapi.h"

const char *stack_lib_name = NULL;
