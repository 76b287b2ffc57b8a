/* Delivery at every kind of exit (tests/shim/exit_tap.sh): connect to
 * ADDR:PORT, write 8 MiB (byte i is i % 251) and leave without closing the
 * socket, the way MODE says. The kernel delivers all of it and then the
 * FIN, whichever way the process ends; so must the stack.
 *
 *   exitways ADDR PORT MODE
 *     exit     exit(3)
 *     return   return 4 from main
 *     _exit    _exit(5)
 *     _Exit    _Exit(6)
 *     child    a forked child connects, writes and _exit(7)s (a worker);
 *              the parent, which never had a stack, exits with its status
 *     vfork    4 MiB, then a vfork child that _exit(0)s at once, then the
 *              other 4 MiB, and _exit(8): the child must take nothing away
 *     SIGTERM, SIGINT, SIGHUP
 *              with the signal's default action (set here: a background
 *              job of a shell starts with SIGINT ignored), print
 *              "written", then wait for the signal, which ends the process
 *
 * Before leaving it prints "leaving AT" (CLOCK_REALTIME, seconds) on
 * stdout, for the peer's FIN time to be compared with. */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "t.h"

#define TOTAL (8u << 20)

static double wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void put(int s, size_t from, size_t to)
{
	static unsigned char buf[64 * 1024];
	while (from < to) {
		size_t n = to - from < sizeof(buf) ? to - from : sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = (unsigned char)((from + i) % 251);
		for (size_t off = 0; off < n;) {
			ssize_t w = write(s, buf + off, n - off);
			if (w <= 0)
				DIE("write");
			off += (size_t)w;
		}
		from += n;
	}
}

static void leaving(void)
{
	SAY("leaving %.3f", wall());
}

int main(int argc, char **argv)
{
	const char *mode;
	int s, port;

	if (argc != 4)
		DIE("usage: exitways ADDR PORT MODE");
	port = atoi(argv[2]);
	mode = argv[3];
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (!strcmp(mode, "child")) {
		int st;
		pid_t p = fork();
		if (p < 0)
			DIE("fork");
		if (p == 0) {
			s = t_connect_addr(argv[1], port);
			put(s, 0, TOTAL);
			leaving();
			_exit(7);
		}
		if (waitpid(p, &st, 0) != p)
			DIE("waitpid");
		return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
	}
	s = t_connect_addr(argv[1], port);
	if (!strcmp(mode, "vfork")) {
		int st;
		pid_t p;
		put(s, 0, TOTAL / 2);
		p = vfork();
		if (p < 0)
			DIE("vfork");
		if (p == 0)
			_exit(0);
		if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			DIE("the vfork child");
		put(s, TOTAL / 2, TOTAL);
		leaving();
		_exit(8);
	}
	put(s, 0, TOTAL);
	if (!strcmp(mode, "SIGTERM") || !strcmp(mode, "SIGINT") || !strcmp(mode, "SIGHUP")) {
		SAY("written");
		leaving();
		for (;;)
			pause();
	}
	leaving();
	if (!strcmp(mode, "exit"))
		exit(3);
	if (!strcmp(mode, "return"))
		return 4;
	if (!strcmp(mode, "_exit"))
		_exit(5);
	if (!strcmp(mode, "_Exit"))
		_Exit(6);
	DIE("unknown mode %s", mode);
}
