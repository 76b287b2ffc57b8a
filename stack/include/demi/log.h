/* The stack's log: one sink for every layer below the shim (runtime, DPDK
 * driver, protocol traces). The embedding program installs the sink and the
 * level once; until then nothing is printed. Lines are short events, never
 * one per packet. */
#ifndef DEMI_LOG_H
#define DEMI_LOG_H

#include <stdarg.h>

enum demi_log_level {
	DEMI_LOG_ERROR,
	DEMI_LOG_WARN,
	DEMI_LOG_INFO,
	DEMI_LOG_DEBUG,
};

/* Receives one formatted line (no trailing newline). */
typedef void (*demi_log_sink)(enum demi_log_level level, const char *line);

/* Install the sink and the highest level it wants; sink NULL: silence. */
void demi_log_set(demi_log_sink sink, enum demi_log_level max);
/* Non-zero if a line at this level would reach the sink. */
int demi_log_on(enum demi_log_level level);
void demi_log(enum demi_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void demi_vlog(enum demi_log_level level, const char *fmt, va_list ap);
/* For programs without a log of their own (tools): "demi: LINE" on stderr,
 * up to the level DEMI_LOG names (error, warn, info, debug; default warn). */
void demi_log_stderr(void);

#endif
