/* One line per notable event, to stderr: "libdemi[PID]: LEVEL: message".
 * DEMI_LOG (error|warn|info|debug) overrides the config's [log] level. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

int log_level = LOG_WARN;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int log_parse_level(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

void log_msg(int level, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n, m;

	if (level > log_level)
		return;
	n = snprintf(line, sizeof(line), "libdemi[%d]: %s: ", (int)getpid(), level_names[level]);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	REAL(write)(2, line, (size_t)n);
}
