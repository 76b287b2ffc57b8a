/* close() with SO_LINGER set to a timeout (tests/shim/linger_tap.sh): it
 * returns once the data and the FIN are acknowledged, or when the time is
 * up. The peer (on the kernel) answers questions on a second port.
 *
 *   linger ADDR PORT acked
 *       connect, SO_LINGER {1, 20}, write 256 KiB (blocking) to a peer that
 *       reads slowly, close(); then ask the peer whether its kernel already
 *       holds the whole stream and its end. It must: the FIN was ACKed.
 *   linger ADDR PORT timeout
 *       connect to a peer that never reads, fill the connection
 *       (non-blocking writes until EAGAIN), SO_LINGER {1, 1}, close(): it
 *       blocks about a second and returns 0. The same for dup2() over such
 *       a socket and close_range() of it.
 *   linger ADDR PORT many
 *       MANY connections (a small SO_SNDBUF), each filled behind a peer
 *       that does not read yet, with SO_LINGER {1, 20}; the peer is told
 *       to read them one after the other, and one close_range() closes
 *       them all. When it returns the peer must hold every stream whole
 *       and its FIN: each close was waited for, however many.
 *
 * Observations only: nothing printed depends on timing beyond the linger
 * bounds themselves (close blocked at least 0.9 s; less than 10 s). */
#include <fcntl.h>
#include <time.h>

#include "t.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* one question to the peer's control port, its one-line answer printed */
static void ask(const char *addr, int port, const char *q)
{
	char buf[128];
	size_t got = 0;
	ssize_t n;
	int c = t_connect_addr(addr, port + 1);
	if (write(c, q, strlen(q)) != (ssize_t)strlen(q))
		DIE("write question");
	while (got < sizeof(buf) - 1 && (n = read(c, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = 0;
	if (got && buf[got - 1] == '\n')
		buf[got - 1] = 0;
	SAY("peer: %s", buf);
	close(c);
}

static void run_acked(const char *addr, int port)
{
	static unsigned char buf[256 * 1024];
	struct linger lg = { 1, 20 };
	size_t off = 0;
	int s = t_connect_addr(addr, port);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 7 % 251);
	T("setsockopt SO_LINGER {1, 20}", setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	while (off < sizeof(buf)) {
		ssize_t w = write(s, buf + off, sizeof(buf) - off);
		if (w <= 0)
			DIE("write at %zu", off);
		off += (size_t)w;
	}
	SAY("written = %zu", off);
	T("close", close(s));
	ask(addr, port, "state\n");
}

/* A connection to a peer that never reads, filled, with SO_LINGER {1, 1} */
static int filled_lingering(const char *addr, int port)
{
	static unsigned char buf[65536];
	struct linger lg = { 1, 1 };
	size_t off = 0;
	int s = t_connect_addr(addr, port);
	T("fcntl O_NONBLOCK", fcntl(s, F_SETFL, O_NONBLOCK));
	for (;;) {
		ssize_t w = write(s, buf, sizeof(buf));
		if (w < 0 && errno == EAGAIN) {
			/* the peer's window may still open a little: full once quiet */
			struct timespec nap = { 0, 50 * 1000 * 1000 };
			nanosleep(&nap, NULL);
			if ((w = write(s, buf, sizeof(buf))) < 0 && errno == EAGAIN)
				break;
		}
		if (w <= 0)
			DIE("write at %zu", off);
		off += (size_t)w;
	}
	SAY("filled = %s", off > 0 ? "yes" : "no");
	T("setsockopt SO_LINGER {1, 1}", setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	return s;
}

static void blocked(const char *what, double t0)
{
	double dt = now_s() - t0;
	SAY("%s blocked 0.9 s or more = %s", what, dt >= 0.9 ? "yes" : "no");
	SAY("%s blocked less than 10 s = %s", what, dt < 10 ? "yes" : "no");
}

/* close(), then dup2() over one and close_range() of one: each waits */
static void run_timeout(const char *addr, int port)
{
	double t0;
	int s = filled_lingering(addr, port), nul;
	t0 = now_s();
	T("close", close(s));
	blocked("close", t0);
	s = filled_lingering(addr, port);
	nul = open("/dev/null", O_RDONLY);
	t0 = now_s();
	T("dup2 over it", dup2(nul, s) == s);
	blocked("dup2", t0);
	close(s);
	close(nul);
	s = filled_lingering(addr, port);
	t0 = now_s();
	T("close_range", close_range((unsigned)s, (unsigned)s, 0));
	blocked("close_range", t0);
	ask(addr, port, "quit\n");
}

#define MANY 20     /* as NCONN in linger_tap.sh */
#define MANY_FD 200 /* the connections' fds: MANY_FD .. MANY_FD + MANY - 1 */

static void run_many(const char *addr, int port)
{
	static unsigned char buf[65536];
	struct linger lg = { 1, 20 };
	int sndbuf = 16384;
	size_t total = 0;
	char q[64];

	for (int i = 0; i < MANY; i++) {
		int s = t_connect_addr(addr, port);
		if (setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) || fcntl(s, F_SETFL, O_NONBLOCK))
			DIE("SO_SNDBUF, O_NONBLOCK");
		for (;;) {
			ssize_t w = write(s, buf, sizeof(buf));
			if (w < 0 && errno == EAGAIN) {
				struct timespec nap = { 0, 50 * 1000 * 1000 };
				nanosleep(&nap, NULL);
				if ((w = write(s, buf, sizeof(buf))) < 0 && errno == EAGAIN)
					break;
			}
			if (w <= 0)
				DIE("write at %zu", total);
			total += (size_t)w;
		}
		if (setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)))
			DIE("SO_LINGER");
		if (dup2(s, MANY_FD + i) != MANY_FD + i || close(s))
			DIE("dup2 to %d", MANY_FD + i);
	}
	SAY("connections = %d", MANY);
	ask(addr, port, "go\n");
	T("close_range of them all", close_range(MANY_FD, MANY_FD + MANY - 1, 0));
	snprintf(q, sizeof(q), "state %zu\n", total);
	ask(addr, port, q);
}

int main(int argc, char **argv)
{
	if (argc != 4)
		DIE("usage: linger ADDR PORT acked|timeout|many");
	if (!strcmp(argv[3], "acked"))
		run_acked(argv[1], atoi(argv[2]));
	else if (!strcmp(argv[3], "timeout"))
		run_timeout(argv[1], atoi(argv[2]));
	else if (!strcmp(argv[3], "many"))
		run_many(argv[1], atoi(argv[2]));
	else
		DIE("unknown mode %s", argv[3]);
	return 0;
}
