/* An epoll set holding a TCP connection, seen from outside: nested in
 * another epoll set (level- and edge-triggered on both levels, EPOLLONESHOT
 * inside and outside, two levels deep), in poll() and in select(), with
 * maxevents 1 and at the peer's close. Run with the connection bypassed
 * (tests/shim/nested_tap.sh) and on the kernel: the observations printed
 * must be identical.
 *
 *   nestflow ADDR PORT    connects to tests/shim/nestpeer.py twice: a data
 *                         connection (conn) and a control connection; each
 *                         byte written on the control connection arrives on
 *                         conn, Q makes the peer close conn. Nothing is sent
 *                         on conn until the end, so nothing but that data
 *                         (no ACK of our own data) wakes it.
 *
 * Set A holds the connection (tag conn) and a pipe (tag pipe); set B holds
 * A (tag A) and a second pipe (tag pipe2); set C holds B. */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/wait.h>

#include "t.h"

enum { TAG_CONN = 1, TAG_PIPE, TAG_PIPE2, TAG_A, TAG_B };
static const char *tags[] = {"?", "conn", "pipe", "pipe2", "A", "B"};

static int s, ctrl, pa[2], pb[2], A, B, C, fds0;
static struct epoll_event evs[8];

/* the events of one wait, sorted by tag: the order within a wait is not
 * something the program may rely on */
static void show(const char *name, int n)
{
	T(name, n);
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && evs[j].data.u64 < evs[j - 1].data.u64; j--) {
			struct epoll_event t = evs[j];
			evs[j] = evs[j - 1];
			evs[j - 1] = t;
		}
	for (int i = 0; i < n; i++)
		SAY("%s: %s %#x", name, evs[i].data.u64 < 6 ? tags[evs[i].data.u64] : "?", evs[i].events);
}

#define WAIT(name, ep, max, timeout) show(name, epoll_wait((ep), evs, (max), (timeout)))

static int ctl(int ep, int op, int fd, uint32_t events, int tag)
{
	struct epoll_event ev = {.events = events, .data.u64 = (uint64_t)tag};
	return epoll_ctl(ep, op, fd, &ev);
}

/* one byte to arrive on conn */
static void echo(const char *b)
{
	if (send(ctrl, b, 1, 0) != 1)
		DIE("send");
}

/* one byte to arrive on conn, and wait until it is here, through set D of
 * conn alone (EPOLLET: an edge per arrival) */
static int D;
static void echo_wait(const char *b)
{
	struct epoll_event e;
	while (epoll_wait(D, &e, 1, 0) > 0)
		; /* edges of earlier arrivals */
	echo(b);
	if (epoll_wait(D, &e, 1, 5000) != 1)
		DIE("no data");
}

static void drain_conn(const char *name)
{
	char b[64];
	T(name, recv(s, b, sizeof(b), MSG_DONTWAIT));
}

static void pipe_put(int *p)
{
	if (write(p[1], "p", 1) != 1)
		DIE("pipe write");
}

static void pipe_take(int *p)
{
	char b;
	if (read(p[0], &b, 1) != 1)
		DIE("pipe read");
}

static void test_nested(void)
{
	A = epoll_create1(EPOLL_CLOEXEC);
	B = epoll_create1(EPOLL_CLOEXEC);
	T("ADD conn to A (LT)", ctl(A, EPOLL_CTL_ADD, s, EPOLLIN | EPOLLRDHUP, TAG_CONN));
	T("ADD pipe to A", ctl(A, EPOLL_CTL_ADD, pa[0], EPOLLIN, TAG_PIPE));
	T("ADD A to B (LT)", ctl(B, EPOLL_CTL_ADD, A, EPOLLIN, TAG_A));
	T("ADD pipe2 to B", ctl(B, EPOLL_CTL_ADD, pb[0], EPOLLIN, TAG_PIPE2));
	T("ADD A to A", ctl(A, EPOLL_CTL_ADD, A, EPOLLIN, TAG_A));
	T("ADD B to A (a loop)", ctl(A, EPOLL_CTL_ADD, B, EPOLLIN, TAG_B));
	WAIT("B quiet", B, 8, 0);
	WAIT("A quiet", A, 8, 0);

	/* LT inside LT: ready while data is unread */
	echo("a");
	WAIT("B: data arrives", B, 8, 2000);
	WAIT("B: LT again", B, 8, 0);
	WAIT("A: conn", A, 8, 0);
	WAIT("A: conn again (LT)", A, 8, 0);
	WAIT("B: still (LT member)", B, 8, 0);
	drain_conn("read a");
	WAIT("B: consumed", B, 8, 0);
	WAIT("A: consumed", A, 8, 0);

	/* a kernel member of A, alone and with the connection */
	pipe_put(pa);
	WAIT("B: pipe in A", B, 8, 0);
	echo_wait("b");
	{
		int seen[8] = {0};
		/* bypassed members first: the kernel's are asked every 8th wait */
		for (int k = 0; k < 8; k++) {
			int n = epoll_wait(A, evs, 8, 0);
			for (int i = 0; i < n; i++)
				if (evs[i].data.u64 < 8)
					seen[evs[i].data.u64] = 1;
		}
		T("A: pipe and conn both seen", seen[TAG_CONN] && seen[TAG_PIPE]);
	}
	pipe_take(pa);
	drain_conn("read b");
	WAIT("B: both consumed", B, 8, 0);

	/* ET inside LT: A is ready until a wait on A takes the edge */
	T("MOD conn ET", ctl(A, EPOLL_CTL_MOD, s, EPOLLIN | EPOLLRDHUP | EPOLLET, TAG_CONN));
	WAIT("B: quiet after MOD", B, 8, 0);
	echo("c");
	WAIT("B: ET member, data arrives", B, 8, 2000);
	WAIT("B: still, edge not taken", B, 8, 0);
	WAIT("A: the edge", A, 8, 0);
	WAIT("A: edge taken", A, 8, 0);
	WAIT("B: edge taken, data unread", B, 8, 0);
	echo("d");
	WAIT("B: a new edge", B, 8, 2000);
	WAIT("A: the new edge", A, 8, 0);
	drain_conn("read cd");
	WAIT("B: quiet", B, 8, 0);

	/* LT inside ET: each new readiness of a member is a new edge of A */
	T("MOD conn LT", ctl(A, EPOLL_CTL_MOD, s, EPOLLIN | EPOLLRDHUP, TAG_CONN));
	T("MOD A in B ET", ctl(B, EPOLL_CTL_MOD, A, EPOLLIN | EPOLLET, TAG_A));
	WAIT("B ET: quiet", B, 8, 0);
	echo("e");
	WAIT("B ET: data arrives", B, 8, 2000);
	WAIT("B ET: not again", B, 8, 0);
	echo("f");
	WAIT("B ET: more data, a new edge", B, 8, 2000);
	WAIT("B ET: not again either", B, 8, 0);
	T("MOD A in B ET again", ctl(B, EPOLL_CTL_MOD, A, EPOLLIN | EPOLLET, TAG_A));
	WAIT("B ET: MOD looks again", B, 8, 0);
	pipe_put(pa);
	WAIT("B ET: a kernel member's edge", B, 8, 0);
	pipe_take(pa);
	drain_conn("read ef");
	WAIT("B ET: quiet", B, 8, 0);
	echo("g");
	WAIT("B ET: data after quiet", B, 8, 2000);
	drain_conn("read g");

	/* ET inside ET */
	T("MOD conn ET", ctl(A, EPOLL_CTL_MOD, s, EPOLLIN | EPOLLRDHUP | EPOLLET, TAG_CONN));
	WAIT("B ET/ET: quiet", B, 8, 0);
	echo("h");
	WAIT("B ET/ET: data arrives", B, 8, 2000);
	WAIT("B ET/ET: not again", B, 8, 0);
	WAIT("A ET: the edge", A, 8, 0);
	echo("i");
	WAIT("B ET/ET: a new edge", B, 8, 2000);
	WAIT("A ET: the new edge", A, 8, 0);
	WAIT("A ET: taken", A, 8, 0);
	drain_conn("read hi");
	T("MOD A in B LT", ctl(B, EPOLL_CTL_MOD, A, EPOLLIN, TAG_A));
	T("MOD conn LT", ctl(A, EPOLL_CTL_MOD, s, EPOLLIN | EPOLLRDHUP, TAG_CONN));
	WAIT("B: quiet again", B, 8, 0);

	/* EPOLLONESHOT inside: fired once, then nothing until re-armed */
	T("MOD conn ONESHOT", ctl(A, EPOLL_CTL_MOD, s, EPOLLIN | EPOLLONESHOT, TAG_CONN));
	echo("j");
	WAIT("B: ONESHOT member ready", B, 8, 2000);
	WAIT("A: ONESHOT fires", A, 8, 0);
	WAIT("A: disarmed", A, 8, 0);
	WAIT("B: disarmed member", B, 8, 0);
	echo_wait("k");
		WAIT("B: more data, still disarmed", B, 8, 0);
	T("MOD conn re-arm", ctl(A, EPOLL_CTL_MOD, s, EPOLLIN | EPOLLONESHOT, TAG_CONN));
	WAIT("B: re-armed", B, 8, 0);
	drain_conn("read jk");
	WAIT("B: re-armed, nothing to read", B, 8, 0);
	T("MOD conn LT", ctl(A, EPOLL_CTL_MOD, s, EPOLLIN | EPOLLRDHUP, TAG_CONN));

	/* EPOLLONESHOT outside */
	T("MOD A in B ONESHOT", ctl(B, EPOLL_CTL_MOD, A, EPOLLIN | EPOLLONESHOT, TAG_A));
	echo("l");
	WAIT("B ONESHOT: fires", B, 8, 2000);
	WAIT("B ONESHOT: disarmed", B, 8, 0);
	T("MOD A in B re-arm", ctl(B, EPOLL_CTL_MOD, A, EPOLLIN | EPOLLONESHOT, TAG_A));
	WAIT("B ONESHOT: re-armed", B, 8, 0);
	drain_conn("read l");
	T("MOD A in B LT", ctl(B, EPOLL_CTL_MOD, A, EPOLLIN, TAG_A));

	/* maxevents 1: every ready member is reported over successive waits */
	echo_wait("m");
		pipe_put(pa);
	pipe_put(pb);
	{
		int seen[8] = {0}, n;
		for (int k = 0; k < 2; k++) {
			n = epoll_wait(A, evs, 1, 0);
			T("A max 1", n);
			if (n == 1 && evs[0].data.u64 < 8)
				seen[evs[0].data.u64]++;
		}
		T("A max 1: conn and pipe both seen", seen[TAG_CONN] == 1 && seen[TAG_PIPE] == 1);
		memset(seen, 0, sizeof(seen));
		for (int k = 0; k < 2; k++) {
			n = epoll_wait(B, evs, 1, 0);
			T("B max 1", n);
			if (n == 1 && evs[0].data.u64 < 8)
				seen[evs[0].data.u64]++;
		}
		T("B max 1: A and pipe2 both seen", seen[TAG_A] == 1 && seen[TAG_PIPE2] == 1);
	}
	pipe_take(pa);
	WAIT("B: conn still ready, pipe read", B, 8, 0);
	drain_conn("read m");
	WAIT("B: pipe2 alone", B, 8, 0);
	pipe_take(pb);
	WAIT("B: all read", B, 8, 0);

	/* two levels: C holds B holds A */
	C = epoll_create1(EPOLL_CLOEXEC);
	T("ADD B to C", ctl(C, EPOLL_CTL_ADD, B, EPOLLIN, TAG_B));
	WAIT("C quiet", C, 8, 0);
	echo("n");
	WAIT("C: data arrives two levels down", C, 8, 2000);
	WAIT("C: LT again", C, 8, 0);
	drain_conn("read n");
	WAIT("C: consumed", C, 8, 0);
	T("DEL B from C", epoll_ctl(C, EPOLL_CTL_DEL, B, NULL));
	echo_wait("o");
		WAIT("C: B gone", C, 8, 0);
	drain_conn("read o");
}

static void show_poll(const char *name, int n, struct pollfd *p, int np)
{
	T(name, n);
	if (n > 0) {
		char line[128];
		int o = snprintf(line, sizeof(line), "%s: revents", name);
		for (int i = 0; i < np && o < (int)sizeof(line); i++)
			o += snprintf(line + o, sizeof(line) - (size_t)o, " %#x", (unsigned)p[i].revents);
		SAY("%s", line);
	}
}

static void test_poll_select(void)
{
	struct pollfd p[3] = {{.fd = A, .events = POLLIN}, {.fd = pb[0], .events = POLLIN},
			      {.fd = s, .events = POLLIN}};
	show_poll("poll A: quiet", poll(p, 1, 0), p, 1);
	echo("p");
	show_poll("poll A: data arrives", poll(p, 1, 2000), p, 1);
	show_poll("poll A: again", poll(p, 1, 0), p, 1);
	show_poll("poll A, pipe2, conn", poll(p, 3, 0), p, 3);
	drain_conn("read p");
	show_poll("poll A: consumed", poll(p, 1, 0), p, 1);
	show_poll("poll A, pipe2, conn: consumed", poll(p, 3, 0), p, 3);
	pipe_put(pb);
	show_poll("poll A and pipe2: pipe2", poll(p, 2, 0), p, 2);
	pipe_take(pb);
	echo("q");
	show_poll("poll A and pipe2: A", poll(p, 2, 2000), p, 2);
	drain_conn("read q");

	/* an ET member: A is ready until a wait on A takes the edge */
	T("MOD conn ET", ctl(A, EPOLL_CTL_MOD, s, EPOLLIN | EPOLLRDHUP | EPOLLET, TAG_CONN));
	echo("r");
	show_poll("poll A: ET member", poll(p, 1, 2000), p, 1);
	show_poll("poll A: edge not taken", poll(p, 1, 0), p, 1);
	WAIT("A: the edge", A, 8, 0);
	show_poll("poll A: edge taken", poll(p, 1, 0), p, 1);
	drain_conn("read r");
	T("MOD conn LT", ctl(A, EPOLL_CTL_MOD, s, EPOLLIN | EPOLLRDHUP, TAG_CONN));

	{
		fd_set r;
		struct timeval tv = {0, 0};
		int mx = A + 1;
		FD_ZERO(&r);
		FD_SET(A, &r);
		T("select A: quiet", select(mx, &r, NULL, NULL, &tv));
		echo("s");
		FD_ZERO(&r);
		FD_SET(A, &r);
		tv = (struct timeval){2, 0};
		T("select A: data arrives", select(mx, &r, NULL, NULL, &tv));
		T("select A: set", FD_ISSET(A, &r));
		FD_SET(A, &r);
		tv = (struct timeval){0, 0};
		T("select A: again", select(mx, &r, NULL, NULL, &tv));
		drain_conn("read s");
		FD_SET(A, &r);
		tv = (struct timeval){0, 0};
		T("select A: consumed", select(mx, &r, NULL, NULL, &tv));
		T("select A: clear", FD_ISSET(A, &r));
		FD_ZERO(&r);
		FD_SET(A, &r);
		FD_SET(pb[0], &r);
		pipe_put(pb);
		mx = (A > pb[0] ? A : pb[0]) + 1;
		tv = (struct timeval){0, 0};
		T("select A and pipe2", select(mx, &r, NULL, NULL, &tv));
		T("select: A clear, pipe2 set", !FD_ISSET(A, &r) && FD_ISSET(pb[0], &r));
		pipe_take(pb);
		struct timespec ts = {2, 0};
		FD_ZERO(&r);
		FD_SET(A, &r);
		echo("t");
		T("pselect A: data arrives", pselect(A + 1, &r, NULL, NULL, &ts, NULL));
		drain_conn("read t");
	}
	{
		struct timespec ts = {2, 0};
		echo("u");
		show_poll("ppoll A: data arrives", ppoll(p, 1, &ts, NULL), p, 1);
		drain_conn("read u");
	}
}

static int fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = -1; /* the directory's own */
	if (!d)
		DIE("opendir");
	while (readdir(d))
		n++;
	closedir(d);
	return n - 2; /* . and .. */
}

/* eventfds open here (the sets' own must not survive exec) */
static int eventfd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;
	if (!d)
		DIE("opendir");
	while ((e = readdir(d))) {
		char path[300], link[64];
		ssize_t l;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		if ((l = readlink(path, link, sizeof(link) - 1)) > 0) {
			link[l] = 0;
			n += !strcmp(link, "anon_inode:[eventfd]");
		}
	}
	closedir(d);
	return n;
}

/* What a program exec'd now inherits: no eventfd the sets brought. */
static void exec_count(void)
{
	pid_t pid;
	int st;

	fflush(stdout);
	if ((pid = fork()) < 0)
		DIE("fork");
	if (pid == 0) {
		execl("/proc/self/exe", "nestflow", "fds", (char *)NULL);
		_exit(127);
	}
	T("exec'd program exits", waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	/* posix_spawn runs no fork handlers: close-on-exec alone */
	char *argv[] = {"nestflow", "fds", NULL};
	fflush(stdout);
	{
		/* reported once the child is done, so its line always comes first */
		int rc = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ);
		int ex = rc == 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		T("posix_spawn", rc);
		T("spawned program exits", ex);
	}
}

/* The peer closes once it reads our end of stream. */
static void test_close(void)
{
	struct pollfd p = {.fd = A, .events = POLLIN};
	char b[8];

	T("MOD A in B ET", ctl(B, EPOLL_CTL_MOD, A, EPOLLIN | EPOLLET, TAG_A));
	WAIT("B: quiet before close", B, 8, 0);
	T("shutdown WR", shutdown(s, SHUT_WR));
	WAIT("B ET: own FIN acknowledged", B, 8, 200);
	echo("Q");
	WAIT("B ET: the peer's close", B, 8, 2000);
	WAIT("B ET: not again", B, 8, 0);
	WAIT("A: RDHUP and HUP", A, 8, 0);
	show_poll("poll A: closed", poll(&p, 1, 0), &p, 1);
	T("read EOF", recv(s, b, sizeof(b), 0));
	WAIT("A: still (LT)", A, 8, 0);
	T("MOD A in B LT", ctl(B, EPOLL_CTL_MOD, A, EPOLLIN, TAG_A));
	WAIT("B LT: closed conn", B, 8, 0);
	T("DEL conn from A", epoll_ctl(A, EPOLL_CTL_DEL, s, NULL));
	WAIT("B: conn gone", B, 8, 0);
	show_poll("poll A: conn gone", poll(&p, 1, 0), &p, 1);
	T("ADD conn to A", ctl(A, EPOLL_CTL_ADD, s, EPOLLIN | EPOLLRDHUP, TAG_CONN));
	WAIT("B: conn back", B, 8, 0);
	exec_count();
	/* a closed set leaves the set that held it */
	T("close A", close(A));
	WAIT("B: A closed", B, 8, 0);
	T("close s", close(s));
	T("close B", close(B));
	T("close C", close(C));
	T("fds closed with the sets and conn", fds0 - fd_count());
	close(ctrl);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};

	if (argc == 2 && !strcmp(argv[1], "fds")) {
		SAY("eventfds after exec = %d", eventfd_count());
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: nestflow ADDR PORT\n");
		return 2;
	}
	a.sin_port = htons((unsigned short)atoi(argv[2]));
	inet_pton(AF_INET, argv[1], &a.sin_addr);
	if (pipe(pa) < 0 || pipe(pb) < 0)
		DIE("pipe");
	D = epoll_create1(EPOLL_CLOEXEC);
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		DIE("socket");
	T("connect", connect(s, (struct sockaddr *)&a, sizeof(a)));
	ctrl = socket(AF_INET, SOCK_STREAM, 0);
	T("connect control", connect(ctrl, (struct sockaddr *)&a, sizeof(a)));
	T("ADD conn to D (ET)", ctl(D, EPOLL_CTL_ADD, s, EPOLLIN | EPOLLET, TAG_CONN));
	fds0 = fd_count();
	test_nested();
	test_poll_select();
	test_close();
	return 0;
}
