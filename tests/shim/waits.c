/* epoll, poll and select with Linux's semantics: readiness sequences and
 * errors, printed for a comparison of the kernel and the shim
 * (tests/shim/waits.sh). The listener joins its epoll set before listen(),
 * so under a config that bypasses every listener it changes sides while in
 * the set (to the stack, and back to the kernel when the stack cannot start).
 * Both run twice, on the T_LOCAL then the T_PEER side (t_side in t.h). */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>

#include "t.h"

static int ep;
static struct epoll_event evs[8];

static int fd_of(int n, int fd)
{
	for (int i = 0; i < n; i++)
		if (evs[i].data.fd == fd)
			return (int)evs[i].events;
	return -1;
}

#define WAIT(name, timeout, fd)                                                    \
	do {                                                                           \
		int n_ = epoll_wait(ep, evs, 8, (timeout));                                \
		T(name, n_);                                                               \
		if (n_ > 0 && (fd) >= 0)                                                   \
			SAY("%s events = %#x", name, fd_of(n_, (fd)));                         \
	} while (0)

static void test_epoll(int side_listen)
{
	struct sockaddr_in a = t_side_addr(0, 1);
	socklen_t l = sizeof(a);
	struct epoll_event ev;
	int ls, c, s, pp[2], one = 1;
	char b[64];

	T("epoll_create 0", epoll_create(0));
	T("epoll_create1 bad flags", epoll_create1(12345));
	ep = epoll_create1(EPOLL_CLOEXEC);
	T("epoll cloexec", fcntl(ep, F_GETFD));
	if (pipe(pp) < 0)
		DIE("pipe");

	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	bind(ls, (struct sockaddr *)&a, sizeof(a));
	ev = (struct epoll_event){.events = EPOLLIN, .data.fd = ls};
	T("ADD listener before listen", epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev));
	WAIT("unlistened socket", 0, ls);
	T("listen", listen(ls, 8));
	getsockname(ls, (struct sockaddr *)&a, &l);
	ev = (struct epoll_event){.events = EPOLLIN, .data.fd = pp[0]};
	T("ADD pipe", epoll_ctl(ep, EPOLL_CTL_ADD, pp[0], &ev));
	WAIT("nothing ready", 0, -1);
	WAIT("nothing ready, 20 ms", 20, -1);

	c = t_connect(ntohs(a.sin_port));
	WAIT("listener ready", 1000, ls);
	WAIT("listener still ready (LT)", 0, ls);
	s = accept(ls, NULL, NULL);
	T("accept", s >= 0);
	if (side_listen) {
		t_subject("epoll listener", ls);
		t_subject("epoll accepted", s);
	} else {
		t_subject("epoll connected", c);
	}
	WAIT("listener drained", 0, ls);

	ev = (struct epoll_event){.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.fd = s};
	T("ADD conn ET", epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev));
	WAIT("conn quiet", 0, s);
	write(c, "abc", 3);
	WAIT("conn data", 1000, s);
	WAIT("ET: not again", 0, s);
	write(c, "def", 3);
	WAIT("ET: new data", 1000, s);
	ev.events = EPOLLIN;
	T("MOD LT", epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev));
	WAIT("LT", 0, s);
	WAIT("LT again", 0, s);
	T("read", read(s, b, sizeof(b)));
	WAIT("LT drained", 0, s);
	ev.events = EPOLLIN | EPOLLONESHOT;
	T("MOD ONESHOT", epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev));
	write(c, "g", 1);
	WAIT("ONESHOT fires", 1000, s);
	write(c, "h", 1);
	WAIT("ONESHOT disarmed", 20, s);
	T("MOD re-arm", epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev));
	WAIT("re-armed", 0, s);
	read(s, b, sizeof(b));
	ev.events = EPOLLOUT;
	T("MOD OUT", epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev));
	WAIT("writable", 0, s);
	ev.events = EPOLLIN | EPOLLRDHUP;
	epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev);

	/* maxevents 1 with two fds ready: both are reported over two calls */
	write(pp[1], "p", 1);
	write(c, "i", 1);
	/* both ready before the waits: the byte may wait for an ACK of the
	 * last one (Nagle), later over a tap than on loopback */
	poll(&(struct pollfd){.fd = s, .events = POLLIN}, 1, 5000);
	{
		int n1 = epoll_wait(ep, evs, 1, 1000), f1 = evs[0].data.fd;
		int n2 = epoll_wait(ep, evs, 1, 1000), f2 = evs[0].data.fd;
		T("maxevents 1, first", n1);
		T("maxevents 1, second", n2);
		T("maxevents 1 covers both", (f1 == s && f2 == pp[0]) || (f1 == pp[0] && f2 == s));
	}
	read(pp[0], b, 1);
	read(s, b, sizeof(b));
	WAIT("both drained", 0, -1);

	T("shutdown peer WR", shutdown(c, SHUT_WR));
	WAIT("RDHUP", 1000, s);
	T("read EOF", read(s, b, sizeof(b)));
	T("shutdown own WR", shutdown(s, SHUT_WR));
	usleep(10000);
	WAIT("HUP", 1000, s);

	/* errors */
	T("ADD again", epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev));
	T("DEL unknown", epoll_ctl(ep, EPOLL_CTL_DEL, c, &ev));
	T("MOD unknown", epoll_ctl(ep, EPOLL_CTL_MOD, c, &ev));
	T("ADD itself", epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev));
	T("bad op", epoll_ctl(ep, 99, s, &ev));
	T("ADD closed fd", epoll_ctl(ep, EPOLL_CTL_ADD, 999, &ev));
	T("ctl on a non-epoll fd", epoll_ctl(pp[0], EPOLL_CTL_ADD, s, &ev));
	{
		int f = open("/dev/null", O_RDONLY);
		T("ADD /dev/null", epoll_ctl(ep, EPOLL_CTL_ADD, f, &ev));
		close(f);
	}
	ev.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT;
	T("ADD EXCLUSIVE|ONESHOT", epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev));
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	T("ADD EXCLUSIVE", epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev));
	T("MOD EXCLUSIVE", epoll_ctl(ep, EPOLL_CTL_MOD, c, &ev));
	T("DEL", epoll_ctl(ep, EPOLL_CTL_DEL, c, NULL));
	T("wait maxevents 0", epoll_wait(ep, evs, 0, 0));
	T("wait bad epfd", epoll_wait(999, evs, 8, 0));
	T("wait non-epoll fd", epoll_wait(pp[0], evs, 8, 0));
	{
		sigset_t m;
		sigemptyset(&m);
		sigaddset(&m, SIGUSR1);
		T("epoll_pwait 10 ms", epoll_pwait(ep, evs, 8, 10, &m));
		struct timespec ts = {0, 10000000};
		T("epoll_pwait2 10 ms", epoll_pwait2(ep, evs, 8, &ts, NULL));
		ts.tv_nsec = 2000000000;
		T("epoll_pwait2 bad timeout", epoll_pwait2(ep, evs, 8, &ts, NULL));
	}

	/* a closed fd leaves the set */
	T("DEL conn", epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL));
	T("close conn", close(s));
	T("close peer", close(c));
	c = t_connect(ntohs(a.sin_port));
	s = accept(ls, NULL, NULL);
	ev = (struct epoll_event){.events = EPOLLIN, .data.fd = s};
	epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
	close(s);
	write(c, "x", 1);
	WAIT("closed fd gone", 20, -1);
	close(c);
	close(ls);
	close(pp[0]);
	close(pp[1]);
	T("close epoll", close(ep));
}

static void test_poll_select(int side_listen)
{
	struct sockaddr_in a = t_side_addr(0, 1);
	socklen_t l = sizeof(a);
	int ls = socket(AF_INET, SOCK_STREAM, 0), c, s, pp[2];
	char b[8];

	bind(ls, (struct sockaddr *)&a, sizeof(a));
	listen(ls, 4);
	getsockname(ls, (struct sockaddr *)&a, &l);
	if (pipe(pp) < 0)
		DIE("pipe");
	{
		struct pollfd p[4] = {{.fd = ls, .events = POLLIN}, {.fd = pp[0], .events = POLLIN},
				      {.fd = -1, .events = POLLIN}, {.fd = 999, .events = POLLIN}};
		T("poll nothing but a bad fd", poll(p, 4, 0));
		SAY("revents %d %d %d %d", p[0].revents, p[1].revents, p[2].revents, p[3].revents);
		T("poll 20 ms", poll(p, 3, 20));
		c = t_connect(ntohs(a.sin_port));
		T("poll listener", poll(p, 3, 1000));
		SAY("revents %d %d %d", p[0].revents, p[1].revents, p[2].revents);
	}
	s = accept(ls, NULL, NULL);
	t_subject(side_listen ? "poll accepted" : "poll connected", side_listen ? s : c);
	write(pp[1], "p", 1);
	write(c, "s", 1);
	usleep(10000);
	{
		struct pollfd p[3] = {{.fd = s, .events = POLLIN | POLLOUT}, {.fd = pp[0], .events = POLLIN},
				      {.fd = s, .events = POLLRDHUP}};
		T("poll both", poll(p, 3, 1000));
		SAY("revents %d %d %d", p[0].revents, p[1].revents, p[2].revents);
		struct timespec ts = {0, 0};
		sigset_t m;
		sigemptyset(&m);
		T("ppoll", ppoll(p, 3, &ts, &m));
		ts.tv_nsec = -1;
		T("ppoll bad timeout", ppoll(p, 3, &ts, NULL));
	}
	{
		fd_set r, w, e;
		struct timeval tv = {0, 0};
		FD_ZERO(&r);
		FD_ZERO(&w);
		FD_ZERO(&e);
		FD_SET(s, &r);
		FD_SET(pp[0], &r);
		FD_SET(s, &w);
		FD_SET(s, &e);
		int mx = (s > pp[0] ? s : pp[0]) + 1;
		T("select", select(mx, &r, &w, &e, &tv));
		SAY("select sets %d %d %d %d", FD_ISSET(s, &r), FD_ISSET(pp[0], &r), FD_ISSET(s, &w), FD_ISSET(s, &e));
		read(s, b, sizeof(b));
		read(pp[0], b, sizeof(b));
		FD_ZERO(&r);
		FD_SET(s, &r);
		FD_SET(pp[0], &r);
		tv = (struct timeval){0, 20000};
		T("select timeout", select(mx, &r, NULL, NULL, &tv));
		SAY("select timeout left %ld.%06ld", (long)tv.tv_sec, (long)tv.tv_usec);
		FD_ZERO(&r);
		FD_SET(999, &r);
		T("select bad fd", select(1000, &r, NULL, NULL, &tv));
		T("select bad nfds", select(-1, NULL, NULL, NULL, &tv));
		FD_ZERO(&r);
		FD_SET(s, &r);
		struct timespec ts = {0, 10000000};
		T("pselect timeout", pselect(s + 1, &r, NULL, NULL, &ts, NULL));
		shutdown(c, SHUT_WR);
		FD_SET(s, &r);
		T("pselect EOF readable", pselect(s + 1, &r, NULL, NULL, &ts, NULL));
	}
	close(s);
	close(c);
	close(ls);
	close(pp[0]);
	close(pp[1]);
}

int main(void)
{
	t_start();
	for (int side_listen = 1; side_listen >= 0; side_listen--) {
		t_side = side_listen ? "T_LOCAL" : "T_PEER";
		SAY("-- %s", side_listen ? "listening and accepted sockets on T_LOCAL" : "connecting sockets to T_PEER");
		test_epoll(side_listen);
		test_poll_select(side_listen);
	}
	return 0;
}
