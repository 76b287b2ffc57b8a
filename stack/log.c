/* The stack's log sink (demi/log.h). The sink and level are set once, before
 * any stack thread starts, and only read afterwards. */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

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

static void log_to_stderr(enum demi_log_level level, const char *line)
{
	(void)level;
	fprintf(stderr, "demi: %s\n", line);
}

void demi_log_stderr(void)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	const char *env = getenv("DEMI_LOG");
	enum demi_log_level max = DEMI_LOG_WARN;

	for (int i = 0; env && i < 4; i++)
		if (!strcasecmp(env, names[i]))
			max = (enum demi_log_level)i;
	demi_log_set(log_to_stderr, max);
}
