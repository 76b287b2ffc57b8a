/* The config parser (shim/config.c, with libinih) on arbitrary bytes: the
 * input is the file. What must hold for every input:
 *   - no crash, no sanitizer report, no leak, no hang;
 *   - a file is either accepted (0, not broken) or refused (-1, broken and
 *     not active): nothing in between;
 *   - an accepted file with bypass rules names a device and an address, and
 *     every string it left in the configuration is terminated in its array;
 *   - parsing is deterministic: the same bytes give the same configuration. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shim.h"
#include "stackapi.h"

/* the parser never reaches the stack library; the symbol is the shim's */
const struct stack_api *stack_api;

/* The shim's log, replaced: a parsed [log] file must not make the fuzzer
 * append lines to whatever path an input names. */
int log_level = LOG_WARN;
char log_path[256];
static int trace;

int log_parse_level(const char *s)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	for (int i = 0; i < 4; i++)
		if (strcasecmp(s, names[i]) == 0)
			return i;
	return -1;
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;
	if (!trace)
		return;
	fprintf(stderr, "level %d: ", level);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void log_install(void)
{
}

static int memfd = -1;
static char path[64];
static struct shim_cfg a, b;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	trace = getenv("FUZZ_TRACE") != NULL; /* errors are expected: shown only then */
	memfd = memfd_create("demi-config", MFD_CLOEXEC);
	if (memfd < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	return 0;
}

static void check_terminated(const char *s, size_t cap)
{
	if (!memchr(s, 0, cap))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int ra, rb;

	if (ftruncate(memfd, 0) != 0 || pwrite(memfd, data, size, 0) != (ssize_t)size)
		abort();
	ra = cfg_parse_file(&a, path);
	if (ra != 0 && ra != -1)
		abort();
	if (ra == 0 && a.broken)
		abort();
	if (ra == -1 && (!a.broken || a.active))
		abort();
	check_terminated(a.path, sizeof(a.path));
	check_terminated(a.rt.device, sizeof(a.rt.device));
	check_terminated(a.rt.eal_args, sizeof(a.rt.eal_args));
	if (a.nconnect < 0 || a.nconnect > CFG_MAX_CONNECT)
		abort();
	if (a.active) {
		if (!a.rt.device[0] || !a.rt.stack.addr.s_addr || a.rt.stack.prefix_len > 32)
			abort();
	}
	rb = cfg_parse_file(&b, path);
	if (ra != rb || memcmp(&a, &b, sizeof(a)))
		abort();
	return 0;
}
