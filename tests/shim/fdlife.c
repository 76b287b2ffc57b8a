/* fd lifetime across threads, as Linux has it, for runs where the sockets
 * really are bypassed (tests/shim/fdlife_tap.sh) and the same runs on the
 * kernel: the observations printed must be identical.
 *
 *   fdlife cases ADDR PORT LPORT    one thread blocks in recv/accept/poll/
 *                                   select/epoll_wait while another closes,
 *                                   dup2()s over or shuts down its fd, and
 *                                   reuses the number for a new connection;
 *                                   fclose() of an fdopen()ed connection
 *   fdlife stress ADDR PORT N       N rounds of close/dup2/shutdown racing
 *                                   a blocked recv, an epoll_wait and the
 *                                   reuse of the number: no crash, no hang
 *
 * The peer (tests/shim/peer.py echo-multi) echoes every connection on
 * ADDR:PORT; LPORT is a port this program listens on. On Linux close() from
 * another thread does not wake a call blocked on the fd (the call holds the
 * file), shutdown() does. SO_RCVTIMEO and wait timeouts end the calls that
 * close does not wake, the same way on both; they are generous, so a late
 * wake-up shows as a different line rather than a flaky one. */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#include "t.h"

static const char *peer_addr;
static unsigned short peer_port, lport;

static void timeo(int s, int name, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	if (setsockopt(s, SOL_SOCKET, name, &tv, sizeof(tv)) != 0)
		DIE("setsockopt timeout");
}

/* A connection to the peer. It has a receive timeout from the start: in
 * the stress rounds a recv may begin after its number was reused (a race
 * of the program itself, on Linux too) and must end all the same. */
static int conn(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(peer_port)};
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (inet_pton(AF_INET, peer_addr, &a.sin_addr) != 1)
		DIE("address %s", peer_addr);
	if (s < 0)
		DIE("socket");
	timeo(s, SO_RCVTIMEO, 5000);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) != 0)
		DIE("connect");
	return s;
}

/* msg sent on s comes back, exactly, within ms: 1, else 0 */
static int echo_within(int s, const char *msg, int ms)
{
	size_t n = strlen(msg), got = 0;
	char b[256];

	timeo(s, SO_RCVTIMEO, ms);
	if (send(s, msg, n, MSG_NOSIGNAL) != (ssize_t)n)
		return 0;
	while (got < n) {
		ssize_t r = recv(s, b + got, n - got, 0);
		if (r <= 0)
			return 0;
		got += (size_t)r;
	}
	return memcmp(b, msg, n) == 0;
}

static int echo_ok(int s, const char *msg)
{
	return echo_within(s, msg, 5000);
}

static int listener(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(lport)};
	int one = 1, l = socket(AF_INET, SOCK_STREAM, 0);

	if (l < 0)
		DIE("socket");
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l, 8) != 0)
		DIE("listen on %u", lport);
	return l;
}

/* ---- a thread blocked in one call ---- */

enum { K_RECV, K_SEND, K_ACCEPT, K_POLL, K_SELECT, K_EPOLL };

struct blocker {
	pthread_t th;
	int kind, fd, ms;
	atomic_int tid, entering;
	long rc;
	int err;
	unsigned ev, data;
	char buf[64];
};

static void *blocker_main(void *arg)
{
	struct blocker *b = arg;

	atomic_store(&b->tid, (int)syscall(SYS_gettid));
	atomic_store(&b->entering, 1);
	switch (b->kind) {
	case K_RECV:
		b->rc = recv(b->fd, b->buf, sizeof(b->buf), 0);
		break;
	case K_SEND: {
		/* more than the peer and both buffers take while nobody reads
		 * the echo: it blocks, then SO_SNDTIMEO ends it with a count */
		size_t n = 32 << 20;
		char *big = calloc(1, n);
		b->rc = big ? send(b->fd, big, n, MSG_NOSIGNAL) : -1;
		free(big);
		break;
	}
	case K_ACCEPT:
		b->rc = accept(b->fd, NULL, NULL);
		break;
	case K_POLL: {
		struct pollfd p = {.fd = b->fd, .events = POLLIN};
		b->rc = poll(&p, 1, b->ms);
		b->ev = (unsigned short)p.revents;
		break;
	}
	case K_SELECT: {
		fd_set r;
		struct timeval tv = {b->ms / 1000, (b->ms % 1000) * 1000};
		FD_ZERO(&r);
		FD_SET(b->fd, &r);
		b->rc = select(b->fd + 1, &r, NULL, NULL, &tv);
		b->ev = FD_ISSET(b->fd, &r) ? 1 : 0;
		break;
	}
	case K_EPOLL: {
		struct epoll_event ev[4];
		b->rc = epoll_wait(b->fd, ev, 4, b->ms);
		if (b->rc > 0) {
			b->ev = ev[0].events;
			b->data = ev[0].data.u32;
		}
		break;
	}
	}
	b->err = errno;
	return NULL;
}

static char thread_state(int tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	if ((f = open(path, O_RDONLY)) < 0)
		return '?';
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return '?';
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

/* Start b and return once it sleeps inside its call. */
static void block(struct blocker *b, int kind, int fd, int ms)
{
	b->kind = kind;
	b->fd = fd;
	b->ms = ms;
	atomic_store(&b->entering, 0);
	if (pthread_create(&b->th, NULL, blocker_main, b) != 0)
		DIE("pthread_create");
	while (!atomic_load(&b->entering))
		usleep(1000);
	for (int i = 0; i < 5000 && thread_state(atomic_load(&b->tid)) != 'S'; i++)
		usleep(1000);
	usleep(50000);
}

static void joined(struct blocker *b, const char *what)
{
	pthread_join(b->th, NULL);
	if (b->rc < 0)
		SAY("%s = %ld %s", what, b->rc, t_errname(b->err));
	else
		SAY("%s = %ld", what, b->rc);
}

/* ---- the cases ---- */

static void recv_then_close(void)
{
	struct blocker b = {0};
	int s = conn(), n;

	SAY("-- close while recv blocks, the number reused at once");
	timeo(s, SO_RCVTIMEO, 1500);
	block(&b, K_RECV, s, 0);
	T("close", close(s));
	n = conn();
	SAY("new connection has the old number: %s", n == s ? "yes" : "no");
	SAY("new connection echoes its own data: %d", echo_ok(n, "new-1"));
	joined(&b, "blocked recv (not woken by close, ends at SO_RCVTIMEO)");
	SAY("new connection still echoes: %d", echo_ok(n, "new-2"));
	T("close new", close(n));
}

static void recv_then_dup2(void)
{
	struct blocker b = {0};
	int s = conn(), n;

	SAY("-- dup2 over the fd while recv blocks");
	timeo(s, SO_RCVTIMEO, 1500);
	block(&b, K_RECV, s, 0);
	n = conn();
	T("dup2 new over blocked", dup2(n, s) == s ? 0 : -1);
	T("close new", close(n));
	SAY("the number now echoes the new connection: %d", echo_ok(s, "via-dup2"));
	joined(&b, "blocked recv (still on the old connection)");
	T("close", close(s));
}

static void send_then_close(void)
{
	struct blocker b = {0};
	int s = conn(), n;

	SAY("-- close while send blocks");
	timeo(s, SO_SNDTIMEO, 1500);
	block(&b, K_SEND, s, 0);
	T("close", close(s));
	n = conn();
	SAY("new connection has the old number: %s", n == s ? "yes" : "no");
	SAY("new connection echoes: %d", echo_ok(n, "while-old-sends"));
	pthread_join(b.th, NULL);
	/* how much was queued depends on buffer sizes: only its sign */
	SAY("blocked send (not woken by close, ends at SO_SNDTIMEO): %s",
	    b.rc > 0 ? "part sent" : b.rc == 0 ? "0" : t_errname(b.err));
	T("close new", close(n));
}

static void recv_then_shutdown(void)
{
	struct blocker b = {0};
	int s = conn();

	SAY("-- shutdown while recv blocks");
	timeo(s, SO_RCVTIMEO, 8000);
	block(&b, K_RECV, s, 0);
	T("shutdown RDWR", shutdown(s, SHUT_RDWR));
	joined(&b, "blocked recv (woken: end of stream)");
	T("recv after", recv(s, b.buf, sizeof(b.buf), 0));
	T("close", close(s));
}

static void accept_then_shutdown(void)
{
	struct blocker b = {0};
	int l = listener();

	SAY("-- shutdown while accept blocks");
	timeo(l, SO_RCVTIMEO, 8000);
	block(&b, K_ACCEPT, l, 0);
	T("shutdown SHUT_WR (nothing on a listener)", shutdown(l, SHUT_WR));
	usleep(100000);
	T("shutdown RDWR", shutdown(l, SHUT_RDWR));
	joined(&b, "blocked accept (woken)");
	T("accept after", accept(l, NULL, NULL));
	struct pollfd p = {.fd = l, .events = POLLIN | POLLOUT};
	T("poll the stopped listener", poll(&p, 1, 0));
	SAY("revents 0x%x", (unsigned short)p.revents);
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	T("getsockname", getsockname(l, (struct sockaddr *)&a, &al));
	SAY("still bound to its port: %d", ntohs(a.sin_port) == lport);
	T("close", close(l));
}

static void accept_then_close(void)
{
	struct blocker b = {0};
	int l = listener(), n;

	SAY("-- close while accept blocks");
	timeo(l, SO_RCVTIMEO, 1500);
	block(&b, K_ACCEPT, l, 0);
	T("close", close(l));
	n = conn();
	SAY("new connection has the old number: %s", n == l ? "yes" : "no");
	SAY("new connection echoes: %d", echo_ok(n, "after-listener"));
	joined(&b, "blocked accept (not woken by close, ends at SO_RCVTIMEO)");
	T("close new", close(n));
	l = listener();
	SAY("the port listens again: %d", l >= 0);
	T("close", close(l));
}

static void poll_then_close(void)
{
	struct blocker b = {0};
	int s = conn();

	SAY("-- close while poll and select block");
	block(&b, K_POLL, s, 1500);
	T("close", close(s));
	joined(&b, "blocked poll (not woken by close)");
	SAY("poll revents 0x%x", b.ev);
	s = conn();
	block(&b, K_SELECT, s, 1500);
	T("close", close(s));
	joined(&b, "blocked select (not woken by close)");
	SAY("select readable %u", b.ev);
}

static void epoll_then_close(void)
{
	struct blocker b = {0};
	struct epoll_event ev = {.events = EPOLLIN}, out[4];
	int ep = epoll_create1(0), s = conn(), n, d;

	SAY("-- close of an epoll member while epoll_wait blocks");
	ev.data.u32 = 111;
	T("epoll_ctl ADD", epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev));
	block(&b, K_EPOLL, ep, 1500);
	T("close member", close(s));
	n = conn();
	SAY("new connection has the old number: %s", n == s ? "yes" : "no");
	SAY("new connection echoes: %d", echo_ok(n, "not-in-the-set"));
	T("send on new", send(n, "x", 1, 0));
	joined(&b, "blocked epoll_wait (nothing: the member left with its close)");
	T("epoll_wait after", epoll_wait(ep, out, 4, 300));
	T("epoll_ctl DEL new (never added)", epoll_ctl(ep, EPOLL_CTL_DEL, n, NULL));
	ev.data.u32 = 222;
	T("epoll_ctl ADD new", epoll_ctl(ep, EPOLL_CTL_ADD, n, &ev));
	T("epoll_wait new", epoll_wait(ep, out, 4, 5000));
	SAY("event data %u events 0x%x", out[0].data.u32, out[0].events);
	T("close new", close(n));
	T("epoll_wait after closing it", epoll_wait(ep, out, 4, 300));

	SAY("-- close of an epoll member that has a dup");
	s = conn();
	ev.data.u32 = 333;
	T("epoll_ctl ADD", epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev));
	d = dup(s);
	block(&b, K_EPOLL, ep, 8000);
	T("close member", close(s));
	T("send on the dup", send(d, "y", 1, 0));
	joined(&b, "blocked epoll_wait (woken: the registration lives on)");
	SAY("event data %u events 0x%x", b.data, b.ev);
	T("recv on the dup", recv(d, b.buf, sizeof(b.buf), 0));
	T("close dup", close(d));
	T("epoll_wait after the last close", epoll_wait(ep, out, 4, 300));
	T("close epoll", close(ep));

	SAY("-- close of the epoll fd itself while epoll_wait blocks in it");
	int p[2], q[2];
	ep = epoll_create1(0);
	s = conn();
	T("pipe for a kernel member", pipe(q));
	ev.data.u32 = 555;
	T("epoll_ctl ADD a pipe (the kernel's side of the set)", epoll_ctl(ep, EPOLL_CTL_ADD, q[0], &ev));
	ev.data.u32 = 444;
	T("epoll_ctl ADD", epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev));
	block(&b, K_EPOLL, ep, 8000);
	T("close epoll", close(ep));
	T("pipe", pipe(p));
	SAY("the pipe has the set's old number: %s", p[0] == ep || p[1] == ep ? "yes" : "no");
	T("send on the member", send(s, "z", 1, 0));
	joined(&b, "blocked epoll_wait (woken: the call holds the set)");
	SAY("event data %u events 0x%x", b.data, b.ev);
	T("recv on the member", recv(s, b.buf, sizeof(b.buf), 0));
	T("epoll_wait on the old number (a pipe now)", epoll_wait(ep, out, 4, 0));
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	T("close member", close(s));
}

static void late_data(void)
{
	int s = conn(), n;
	char c;

	SAY("-- data for a closed socket arriving after its number was reused");
	T("send, then close unread", send(s, "late-data", 9, 0));
	T("close", close(s));
	n = conn();
	SAY("new connection has the old number: %s", n == s ? "yes" : "no");
	SAY("new connection echoes only its own data: %d", echo_ok(n, "fresh"));
	usleep(200000);
	T("nothing more on it", recv(n, &c, 1, MSG_DONTWAIT));
	T("close new", close(n));
}

static void fclose_then_open(void)
{
	char path[] = "/tmp/fdlife.XXXXXX", b[32] = {0};
	int s = conn(), f, fd;
	FILE *fp;

	SAY("-- fclose of an fdopen()ed connection, the number reused by open()");
	if ((f = mkstemp(path)) < 0 || write(f, "file-data", 9) != 9)
		DIE("mkstemp");
	close(f);
	T("send on the connection", send(s, "sock-data", 9, 0));
	if (!(fp = fdopen(s, "r+")))
		DIE("fdopen");
	T("fclose", fclose(fp));
	fd = open(path, O_RDONLY);
	SAY("the file has the old number: %s", fd == s ? "yes" : "no");
	T("read the file", read(fd, b, sizeof(b) - 1));
	SAY("it reads: %s", b);
	T("close", close(fd));
	unlink(path);
}

/* ---- stress ---- */

static atomic_int st_done;
static int st_ep;

struct round {
	int s, i;
	pthread_barrier_t *bar;
	long rc;
};

static void *st_recv(void *arg)
{
	struct round *r = arg;
	char b[64];
	pthread_barrier_wait(r->bar);
	r->rc = recv(r->s, b, sizeof(b), 0);
	return NULL;
}

static void *st_closer(void *arg)
{
	struct round *r = arg;
	int spin = (r->i * 7919) % 400, nul;

	pthread_barrier_wait(r->bar);
	for (volatile int k = 0; k < spin * 50; k++)
		;
	switch (r->i % 5) {
	case 0:
		close(r->s);
		break;
	case 1:
		nul = open("/dev/null", O_RDONLY);
		dup2(nul, r->s);
		close(nul);
		close(r->s);
		break;
	case 2:
		shutdown(r->s, SHUT_RDWR);
		close(r->s);
		break;
	case 3:
		send(r->s, "x", 1, MSG_NOSIGNAL);
		close(r->s);
		break;
	case 4: {
		/* the number reused by a socket at once, then closed again */
		close(r->s);
		int n = socket(AF_INET, SOCK_STREAM, 0);
		struct pollfd p = {.fd = n, .events = POLLIN};
		poll(&p, 1, 0);
		close(n);
		break;
	}
	}
	return NULL;
}

static void *st_waiter(void *arg)
{
	struct epoll_event ev[8];
	(void)arg;
	while (!atomic_load(&st_done))
		epoll_wait(st_ep, ev, 8, 20);
	return NULL;
}

static int stress(int rounds)
{
	pthread_barrier_t bar;
	pthread_t w;
	int ok = 0;

	st_ep = epoll_create1(0);
	pthread_barrier_init(&bar, NULL, 3);
	pthread_create(&w, NULL, st_waiter, NULL);
	for (int i = 0; i < rounds; i++) {
		struct round r = {.i = i, .bar = &bar};
		struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u32 = (unsigned)i};
		pthread_t a, c;
		int n;

		r.s = conn();
		timeo(r.s, SO_RCVTIMEO, 100);
		epoll_ctl(st_ep, EPOLL_CTL_ADD, r.s, &ev);
		pthread_create(&a, NULL, st_recv, &r);
		pthread_create(&c, NULL, st_closer, &r);
		pthread_barrier_wait(&bar);
		/* a third thread reuses the number for a connection of its own */
		n = conn();
		ok += echo_within(n, "round", 1000);
		pthread_join(a, NULL);
		pthread_join(c, NULL);
		close(n);
	}
	atomic_store(&st_done, 1);
	pthread_join(w, NULL);
	close(st_ep);
	pthread_barrier_destroy(&bar);
	return ok;
}

int main(int argc, char **argv)
{
	if (argc < 5)
		DIE("usage: fdlife cases ADDR PORT LPORT | fdlife stress ADDR PORT N");
	peer_addr = argv[2];
	peer_port = (unsigned short)atoi(argv[3]);
	if (!strcmp(argv[1], "stress")) {
		int rounds = atoi(argv[4]), ok = stress(rounds);
		/* a recv that starts after the close may read from the new
		 * connection at the reused number, on Linux too: only counted */
		fprintf(stderr, "stress: the new connection echoed in %d of %d rounds\n", ok, rounds);
		SAY("stress: %d rounds done", rounds);
		SAY("a fresh connection echoes: %d", echo_ok(conn(), "after-stress"));
	} else {
		lport = (unsigned short)atoi(argv[4]);
		recv_then_close();
		recv_then_dup2();
		send_then_close();
		recv_then_shutdown();
		accept_then_shutdown();
		accept_then_close();
		poll_then_close();
		epoll_then_close();
		late_data();
		fclose_then_open();
	}
	int q = conn();
	send(q, "QUIT", 4, 0);
	close(q);
	return 0;
}
