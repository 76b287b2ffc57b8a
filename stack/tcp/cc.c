/* Congestion control shared pieces: the initial window, and lookup by name. */
#include <string.h>

#include "cc.h"

const struct tcp_cc_ops *tcp_cc_find(const char *name)
{
	if (!strcmp(name, "cubic"))
		return &tcp_cc_cubic;
	if (!strcmp(name, "newreno") || !strcmp(name, "reno"))
		return &tcp_cc_newreno;
	return NULL;
}
