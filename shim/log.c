/* One line per notable event, to stderr or to [log] file:
 * "libdemi[PID]: LEVEL: message". DEMI_LOG (error|warn|info|debug)
 * overrides the config's [log] level. The file is opened for each line
 * (events are rare), so a program that closes every fd cannot lose it. The
 * stack's lines (runtime, DPDK driver) come here too, through the sink
 * log_install gives it once the configuration has set level and file. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "demi/log.h"
#include "shim.h"

_Static_assert(LOG_ERROR == (int)DEMI_LOG_ERROR && LOG_DEBUG == (int)DEMI_LOG_DEBUG, "one scale of levels");

int log_level = LOG_WARN;
char log_path[256];

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
	if (log_path[0]) {
		int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (fd >= 0) {
			REAL(write)(fd, line, (size_t)n);
			REAL(close)(fd);
			return;
		}
	}
	REAL(write)(2, line, (size_t)n);
}

static void log_from_stack(enum demi_log_level level, const char *line)
{
	log_msg((int)level, "%s", line);
}

void log_install(void)
{
	demi_log_set(log_from_stack, (enum demi_log_level)log_level);
}
