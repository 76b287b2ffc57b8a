/* The stack's log sink (demi/log.h). The sink and level are set once, before
 * any stack thread starts, and only read afterwards. */
#include <stdio.h>

#include "demi/log.h"

static demi_log_sink log_sink;
static enum demi_log_level log_max = DEMI_LOG_WARN;

void demi_log_set(demi_log_sink sink, enum demi_log_level max)
{
	log_sink = sink;
	log_max = max;
}

int demi_log_on(enum demi_log_level level)
{
	return log_sink && level <= log_max;
}

void demi_vlog(enum demi_log_level level, const char *fmt, va_list ap)
{
	char line[512];

	if (!demi_log_on(level))
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	log_sink(level, line);
}

void demi_log(enum demi_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	demi_vlog(level, fmt, ap);
	va_end(ap);
}
