/* A server and a client in the shapes of nginx and curl, for runs where the
 * sockets really are bypassed (tests/shim/bypass_tap.sh) and the same runs on
 * the kernel: the observations printed must be identical.
 *
 *   tcpflow server PORT         listen, fork a worker (nginx's master and
 *                               worker) that serves two peer connections
 *                               and one of its own on 127.0.0.1 (the kernel
 *                               side of a bypassed listener)
 *   tcpflow client ADDR PORT    non-blocking connect, poll/select over the
 *                               socket and a socketpair, echo traffic,
 *                               timeouts, half-close, a refused port
 *
 * The peer (tests/shim/peer.py) runs on the kernel. READY_FILE, if set, is
 * created once the server listens. */
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/time.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "t.h"

#define BODY 300000

static int make_body(void)
{
	char path[] = "/tmp/shimt-body.XXXXXX", b[4096];
	int f = mkstemp(path);
	if (f < 0)
		DIE("mkstemp");
	unlink(path);
	for (int off = 0; off < BODY; off += (int)sizeof(b)) {
		for (int i = 0; i < (int)sizeof(b); i++)
			b[i] = (char)((off + i) * 7 % 251);
		if (write(f, b, sizeof(b)) != (ssize_t)sizeof(b))
			DIE("write body");
	}
	return f;
}

static int wait_one(int ep, struct epoll_event *ev, int timeout)
{
	int n;
	do
		n = epoll_wait(ep, ev, 1, timeout);
	while (n < 0 && errno == EINTR);
	return n;
}

/* The request "GET N\n", answered with a writev header and a sendfile body. */
/* What the kernel shows of a connection: a socket to fstat, its family and
 * type, and options only the kernel keeps (IP_TOS, IP_TTL), set and read. */
static void sock_face(int fd, const char *who)
{
	struct stat st;
	int v = 0x10, got = -1;
	socklen_t l = sizeof(got);
	char name[64];

#define FACE(what, expr)                                          \
	do {                                                          \
		snprintf(name, sizeof(name), "%s %s", who, what);         \
		T(name, expr);                                            \
	} while (0)
	FACE("fstat socket", fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode));
	FACE("SO_DOMAIN", getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &got, &l) == 0 ? got : -1);
	FACE("SO_TYPE", getsockopt(fd, SOL_SOCKET, SO_TYPE, &got, &l) == 0 ? got : -1);
	FACE("IP_TTL", getsockopt(fd, IPPROTO_IP, IP_TTL, &got, &l) == 0 ? got : -1);
	FACE("IP_TOS set", setsockopt(fd, IPPROTO_IP, IP_TOS, &v, sizeof(v)));
	FACE("IP_TOS", getsockopt(fd, IPPROTO_IP, IP_TOS, &got, &l) == 0 ? got : -1);
	FACE("IP_TOS bad len", setsockopt(fd, IPPROTO_IP, IP_TOS, &v, 0));
	FACE("fstat socket after", fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode));
	FACE("nonblock kept", (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
#undef FACE
}

static void serve(int ep, int c, int body, const char *who)
{
	struct epoll_event ev;
	char req[64], hdr[64];
	int n, got = 0, v;
	long sum = 0, total = 0;

	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
	ev.data.fd = c;
	sock_face(c, who);
	T("epoll_ctl ADD conn ET", epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev));
	T("epoll_ctl ADD conn again", epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev));
	do {
		n = wait_one(ep, &ev, 10000);
	} while (n == 1 && ev.data.fd != c);
	T("conn readable", n == 1 && (ev.events & EPOLLIN));
	/* a partial read: ET reports nothing new, LT and ONESHOT do */
	T("recv 4", recv(c, req, 4, 0));
	T("ET after partial read", epoll_wait(ep, &ev, 1, 0));
	ev.events = EPOLLIN;
	ev.data.fd = c;
	T("MOD to LT", epoll_ctl(ep, EPOLL_CTL_MOD, c, &ev));
	T("LT reports", epoll_wait(ep, &ev, 1, 0) == 1 && ev.data.fd == c);
	T("LT reports again", epoll_wait(ep, &ev, 1, 0) == 1 && ev.data.fd == c);
	ev.events = EPOLLIN | EPOLLONESHOT;
	T("MOD to ONESHOT", epoll_ctl(ep, EPOLL_CTL_MOD, c, &ev));
	T("ONESHOT reports", epoll_wait(ep, &ev, 1, 0));
	T("ONESHOT disarmed", epoll_wait(ep, &ev, 1, 0));
	{
		struct pollfd p[2] = {{.fd = c, .events = POLLIN}, {.fd = ep, .events = POLLIN}};
		T("poll conn", poll(p, 1, 1000));
		T("poll conn revents", p[0].revents);
		fd_set r;
		FD_ZERO(&r);
		FD_SET(c, &r);
		struct timeval tv = {1, 0};
		T("select conn", select(c + 1, &r, NULL, NULL, &tv));
		T("select conn set", FD_ISSET(c, &r));
	}
	T("FIONREAD", ioctl(c, FIONREAD, &v) == 0 ? v : -1);
	n = (int)recv(c, req + 4, sizeof(req) - 5, 0);
	T("recv rest", n);
	req[4 + (n > 0 ? n : 0)] = 0;
	SAY("%s request = %s", who, strtok(req, "\n"));
	T("recv nothing", recv(c, req, sizeof(req), 0));

	/* nginx: TCP_CORK, writev the header, sendfile the body, uncork */
	int one = 1, zero = 0;
	T("TCP_CORK on", setsockopt(c, IPPROTO_TCP, TCP_CORK, &one, sizeof(one)));
	snprintf(hdr, sizeof(hdr), "LEN %d\n", BODY);
	struct iovec iov[2] = {{hdr, 4}, {hdr + 4, strlen(hdr) - 4}};
	T("writev header", writev(c, iov, 2));
	off_t off = 0;
	ev.events = EPOLLOUT | EPOLLET;
	epoll_ctl(ep, EPOLL_CTL_MOD, c, &ev);
	while (off < BODY) {
		ssize_t s = sendfile(c, body, &off, (size_t)(BODY - off));
		if (s < 0 && errno == EAGAIN) {
			if (wait_one(ep, &ev, 10000) != 1)
				DIE("sendfile wait");
			continue;
		}
		if (s <= 0)
			DIE("sendfile");
	}
	T("sendfile total", off);
	T("TCP_CORK off", setsockopt(c, IPPROTO_TCP, TCP_CORK, &zero, sizeof(zero)));
	T("TCP_NODELAY", setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)));

	/* the peer uploads, then half-closes: read until EOF with ET + RDHUP */
	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
	epoll_ctl(ep, EPOLL_CTL_MOD, c, &ev);
	for (;;) {
		char b[8192];
		ssize_t r = recv(c, b, sizeof(b), 0);
		if (r > 0) {
			for (ssize_t i = 0; i < r; i++)
				sum += (unsigned char)b[i];
			total += r;
			continue;
		}
		if (r == 0)
			break;
		if (errno != EAGAIN)
			DIE("recv upload");
		if (wait_one(ep, &ev, 10000) != 1)
			DIE("upload wait");
		got++;
	}
	T("upload bytes", total);
	T("upload sum", sum);
	snprintf(hdr, sizeof(hdr), "GOT %ld %ld\n", total, sum);
	T("write reply", write(c, hdr, strlen(hdr)));
	T("epoll_ctl DEL", epoll_ctl(ep, EPOLL_CTL_DEL, c, NULL));
	T("epoll_ctl DEL again", epoll_ctl(ep, EPOLL_CTL_DEL, c, NULL));
	T("close conn", close(c));
}

static int accept_next(int ep, int ls, int evfd, int *kicked)
{
	struct epoll_event ev;
	struct sockaddr_in peer;
	socklen_t pl;
	int c;

	for (;;) {
		pl = sizeof(peer);
		c = accept4(ls, (struct sockaddr *)&peer, &pl, SOCK_NONBLOCK);
		if (c >= 0) {
			T("accept4 nonblock", (fcntl(c, F_GETFL) & O_NONBLOCK) != 0);
			T("accept4 peer len", pl);
			return c;
		}
		if (errno != EAGAIN)
			DIE("accept4");
		if (wait_one(ep, &ev, 20000) != 1)
			DIE("listener wait");
		if (ev.data.fd == evfd) {
			uint64_t v;
			T("eventfd read", read(evfd, &v, sizeof(v)));
			(*kicked)++;
		}
	}
}

static int run_server(unsigned short port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0), st;
	pid_t pid;

	T("SO_REUSEADDR", setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)));
	T("bind", bind(ls, (struct sockaddr *)&a, sizeof(a)));
	T("listen", listen(ls, 511));
	T("listen again", listen(ls, 511));
	T("FIONBIO", ioctl(ls, FIONBIO, &one));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		DIE("fork");
	if (pid == 0) {
		/* the worker: epoll with the listener, an eventfd and a pipe */
		int ep = epoll_create(512), evfd = eventfd(0, EFD_NONBLOCK), pp[2], kicked = 0, body = make_body();
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = ls}, evs[8];
		char b;
		T("epoll_ctl ADD listener", epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev));
		ev = (struct epoll_event){.events = EPOLLIN, .data.fd = evfd};
		T("epoll_ctl ADD eventfd", epoll_ctl(ep, EPOLL_CTL_ADD, evfd, &ev));
		if (pipe(pp) < 0)
			DIE("pipe");
		ev = (struct epoll_event){.events = EPOLLIN, .data.fd = pp[0]};
		T("epoll_ctl ADD pipe", epoll_ctl(ep, EPOLL_CTL_ADD, pp[0], &ev));
		T("nothing ready", epoll_wait(ep, evs, 8, 0));
		T("pipe write", write(pp[1], "p", 1));
		T("pipe ready", epoll_wait(ep, evs, 8, 1000) == 1 && evs[0].data.fd == pp[0]);
		T("pipe read", read(pp[0], &b, 1));
		if (getenv("READY_FILE"))
			close(open(getenv("READY_FILE"), O_CREAT | O_WRONLY, 0600));
		for (int i = 0; i < 2; i++) {
			char who[16];
			snprintf(who, sizeof(who), "peer%d", i);
			serve(ep, accept_next(ep, ls, evfd, &kicked), body, who);
		}
		/* a local client on 127.0.0.1: the kernel side of the listener */
		int lc = t_connect(port);
		T("eventfd kick", write(evfd, &(uint64_t){1}, 8));
		int c = accept_next(ep, ls, evfd, &kicked);
		T("local client accepted", c >= 0);
		T("local write", write(lc, "local", 5));
		struct pollfd p = {.fd = c, .events = POLLIN};
		T("local poll", poll(&p, 1, 5000));
		char buf[16];
		T("local read", read(c, buf, sizeof(buf)));
		close(lc);
		close(c);
		close(ls);
		close(ep);
		exit(0);
	}
	close(ls); /* the master keeps nothing */
	T("worker exit", waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static volatile sig_atomic_t alarms, sigpipes;
static void on_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static void alarm_in(long us)
{
	struct itimerval it = {{0, 0}, {0, us}};
	setitimer(ITIMER_REAL, &it, NULL);
}

static void *late_send(void *arg)
{
	usleep(1000000);
	send(*(int *)arg, "r", 1, 0);
	return NULL;
}

/* A handler without SA_RESTART interrupts a blocking recv; with it, the recv
 * goes on (here until another thread's data is echoed); poll and epoll_wait
 * are interrupted either way. */
static void test_signals(int s)
{
	struct sigaction sa, old;
	char b[16];
	pthread_t th;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	T("sigaction", sigaction(SIGALRM, &sa, NULL));
	T("sigaction old is ours", sigaction(SIGALRM, NULL, &old) == 0 && old.sa_handler == on_alarm &&
					   !(old.sa_flags & SA_RESTART));
	alarm_in(50000);
	T("recv interrupted", recv(s, b, sizeof(b), 0));
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	pthread_create(&th, NULL, late_send, &s);
	alarm_in(50000);
	T("recv restarted", recv(s, b, sizeof(b), 0));
	pthread_join(th, NULL);
	alarm_in(50000);
	struct pollfd p = {.fd = s, .events = POLLIN};
	T("poll interrupted", poll(&p, 1, 5000));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = s};
	epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
	alarm_in(50000);
	T("epoll_wait interrupted", epoll_wait(ep, &ev, 1, 5000));
	close(ep);
	T("alarms", alarms);
	signal(SIGALRM, SIG_DFL);
}

static int run_client(const char *addr, unsigned short port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), sp[2], r, err;
	socklen_t l = sizeof(err);
	long sent = 0, echoed = 0, sum_out = 0, sum_in = 0;
	char b[16384];

	inet_pton(AF_INET, addr, &a.sin_addr);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0)
		DIE("socketpair");
	r = connect(s, (struct sockaddr *)&a, sizeof(a));
	T("connect in progress", r == 0 || errno == EINPROGRESS ? 1 : r);
	T("connect again", (r = connect(s, (struct sockaddr *)&a, sizeof(a))) == 0 || errno == EALREADY || errno == EISCONN);
	struct pollfd p[2] = {{.fd = sp[0], .events = POLLIN}, {.fd = s, .events = POLLOUT}};
	do
		r = poll(p, 2, 20000);
	while (r == 0 || (r < 0 && errno == EINTR));
	T("poll connected", r);
	T("poll socketpair quiet", p[0].revents);
	T("poll socket writable", p[1].revents & POLLOUT);
	T("SO_ERROR", getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &l) == 0 ? err : -1);
	/* 0 if no call saw the connection made yet (over loopback "connect
	 * again" did), else EISCONN; then EISCONN */
	T("connect after", (r = connect(s, (struct sockaddr *)&a, sizeof(a))) == 0 || errno == EISCONN);
	T("connect after that", connect(s, (struct sockaddr *)&a, sizeof(a)));
	sock_face(s, "client");
	{
		struct sockaddr_in pa;
		socklen_t pl = sizeof(pa);
		T("getpeername", getpeername(s, (struct sockaddr *)&pa, &pl) == 0 && pa.sin_port == htons(port));
	}
	/* the socketpair wakes a poll that also waits on the socket */
	T("socketpair write", write(sp[1], "w", 1));
	p[1].events = POLLIN;
	T("poll sees socketpair", poll(p, 2, 5000));
	T("socketpair revents", p[0].revents);
	T("socket revents", p[1].revents);
	read(sp[0], b, 1);

	/* 400 KB out, echoed back, both at once through poll */
	for (int i = 0; i < (int)sizeof(b); i++)
		b[i] = (char)(i * 13 % 253);
	while (echoed < 400000) {
		p[1].events = POLLIN | (sent < 400000 ? POLLOUT : 0);
		if (poll(&p[1], 1, 20000) != 1)
			DIE("poll echo");
		if ((p[1].revents & POLLOUT) && sent < 400000) {
			size_t want = 400000 - sent < (long)sizeof(b) ? (size_t)(400000 - sent) : sizeof(b);
			ssize_t w = send(s, b, want, MSG_NOSIGNAL);
			if (w > 0) {
				for (ssize_t i = 0; i < w; i++)
					sum_out += (unsigned char)b[i];
				sent += w;
			} else if (errno != EAGAIN) {
				DIE("send");
			}
		}
		if (p[1].revents & POLLIN) {
			char in[16384];
			ssize_t n = recv(s, in, sizeof(in), 0);
			if (n > 0) {
				for (ssize_t i = 0; i < n; i++)
					sum_in += (unsigned char)in[i];
				echoed += n;
			} else if (n == 0 || errno != EAGAIN) {
				DIE("recv echo");
			}
		}
	}
	T("echoed", echoed);
	T("echo sum matches", sum_in == sum_out);

	/* waits that never block (the socket is always writable) until the
	 * echo comes back: poll, select, epoll (iperf3's sender does this) */
	{
		int ep = epoll_create1(0), seen[3] = {0, 0, 0};
		struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.fd = s};
		epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
		for (int k = 0; k < 3; k++) {
			uint64_t t0 = now_ms();
			send(s, "spin", 4, 0);
			while (!seen[k] && now_ms() - t0 < 10000) {
				if (k == 0) {
					struct pollfd q = {.fd = s, .events = POLLIN | POLLOUT};
					seen[k] = poll(&q, 1, 1000) == 1 && (q.revents & POLLIN);
				} else if (k == 1) {
					fd_set rs, ws;
					struct timeval tv = {1, 0};
					FD_ZERO(&rs);
					FD_ZERO(&ws);
					FD_SET(s, &rs);
					FD_SET(s, &ws);
					seen[k] = select(s + 1, &rs, &ws, NULL, &tv) > 0 && FD_ISSET(s, &rs);
				} else {
					seen[k] = epoll_wait(ep, &ev, 1, 1000) == 1 && (ev.events & EPOLLIN);
				}
			}
			recv(s, b, 4, MSG_WAITALL);
		}
		T("poll spin sees the echo", seen[0]);
		T("select spin sees the echo", seen[1]);
		T("epoll spin sees the echo", seen[2]);
		close(ep);
	}

	/* blocking now: select, MSG_WAITALL, SO_RCVTIMEO */
	T("clear O_NONBLOCK", fcntl(s, F_SETFL, fcntl(s, F_GETFL) & ~O_NONBLOCK));
	T("blocking write", write(s, b, 1000));
	fd_set rs;
	FD_ZERO(&rs);
	FD_SET(s, &rs);
	FD_SET(sp[0], &rs);
	struct timeval tv = {10, 0};
	T("select", select((s > sp[0] ? s : sp[0]) + 1, &rs, NULL, NULL, &tv));
	T("select socket set", FD_ISSET(s, &rs));
	T("select socketpair clear", FD_ISSET(sp[0], &rs));
	T("recv MSG_WAITALL", recv(s, b, 1000, MSG_WAITALL));
	test_signals(s);
	tv = (struct timeval){0, 200000};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	T("recv timeout", recv(s, b, sizeof(b), 0));
	T("shutdown SHUT_WR", shutdown(s, SHUT_WR));
	tv = (struct timeval){10, 0};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	T("recv EOF", recv(s, b, sizeof(b), 0));
	/* writing after SHUT_WR: EPIPE, and SIGPIPE unless MSG_NOSIGNAL */
	signal(SIGPIPE, on_sigpipe);
	T("send after SHUT_WR", send(s, "x", 1, 0));
	T("SIGPIPE raised", sigpipes);
	T("send MSG_NOSIGNAL", send(s, "x", 1, MSG_NOSIGNAL));
	T("write after SHUT_WR", write(s, "x", 1));
	T("SIGPIPEs", sigpipes);
	signal(SIGPIPE, SIG_IGN);
	T("close", close(s));

	/* a port nobody listens on: refused, blocking and non-blocking */
	s = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_port = htons((unsigned short)(port + 1));
	T("connect refused", connect(s, (struct sockaddr *)&a, sizeof(a)));
	close(s);
	s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	r = connect(s, (struct sockaddr *)&a, sizeof(a));
	T("nonblocking connect refused", r == 0 || errno == EINPROGRESS || errno == ECONNREFUSED);
	p[1] = (struct pollfd){.fd = s, .events = POLLOUT};
	T("poll refused", poll(&p[1], 1, 20000));
	T("poll refused revents has ERR", !!(p[1].revents & POLLERR));
	T("SO_ERROR refused", getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &l) == 0 ? err : -1);
	close(s);
	close(sp[0]);
	close(sp[1]);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 3 && !strcmp(argv[1], "server"))
		return run_server((unsigned short)atoi(argv[2]));
	if (argc == 4 && !strcmp(argv[1], "client"))
		return run_client(argv[2], (unsigned short)atoi(argv[3]));
	fprintf(stderr, "usage: tcpflow server PORT | client ADDR PORT\n");
	return 2;
}
