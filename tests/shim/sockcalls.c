/* The socket calls an unmodified program makes, with their return values,
 * errno and bytes: run on the kernel and under the shim, the outputs must be
 * identical (tests/shim/sockcalls.sh). Each case runs twice: once with the
 * listening and accepted sockets on the T_LOCAL side, once with the
 * connecting sockets on the T_PEER side (see t_side in t.h): in a bypassed
 * run, each of the two is the stack's in one pass. */
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/uio.h>

#include "t.h"

static volatile sig_atomic_t sigpipes;
static void on_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

static void wait_in(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, 5000) != 1)
		DIE("poll");
}

static void test_errors(void)
{
	struct sockaddr_in a = t_side_addr(0, 1);
	socklen_t l = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	char b[4];

	T("socket bad domain", socket(12345, SOCK_STREAM, 0));
	T("socket bad type", socket(AF_INET, 99, 0));
	T("bind short len", bind(s, (struct sockaddr *)&a, 4));
	T("bind", bind(s, (struct sockaddr *)&a, sizeof(a)));
	t_subject("errors", s);
	T("bind again", bind(s, (struct sockaddr *)&a, sizeof(a)));
	a = t_lo(1);
	T("getpeername unconnected", getpeername(s, (struct sockaddr *)&a, &l));
	T("accept not listening", accept(s, NULL, NULL));
	T("accept4 bad flags", accept4(s, NULL, NULL, 0x40000000));
	T("recv unconnected", recv(s, b, sizeof(b), MSG_DONTWAIT));
	T("send unconnected", send(s, b, sizeof(b), MSG_NOSIGNAL));
	T("shutdown unconnected", shutdown(s, SHUT_RDWR));
	T("shutdown bad how", shutdown(s, 7));
	T("getsockopt short len", getsockopt(s, SOL_SOCKET, SO_TYPE, b, &(socklen_t){2}));
	T("getsockopt bad len", getsockopt(s, SOL_SOCKET, SO_TYPE, b, &(socklen_t){(socklen_t)-1}));
	T("setsockopt NULL value", setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, NULL, sizeof(int)));
	T("getsockopt unknown", getsockopt(s, SOL_SOCKET, 12345, b, &(socklen_t){4}));
	T("recv bad buffer", recv(s, (void *)8, 4, MSG_DONTWAIT));
	T("bind bad family", bind(s, (struct sockaddr *)&(struct sockaddr_in){.sin_family = AF_INET6}, sizeof(a)));
	T("listen again ok", listen(s, 4) == 0 && listen(s, 8) == 0);
	T("connect on listener", connect(s, (struct sockaddr *)&a, sizeof(a)));
	close(s);
	T("close closed", close(s));
	T("recv closed", recv(s, b, sizeof(b), 0));
	T("getsockopt closed", getsockopt(s, SOL_SOCKET, SO_TYPE, b, &l));
	T("dup closed", dup(s));
	T("fcntl closed", fcntl(s, F_GETFL));
	/* from the connecting side: nothing listens on port 1 */
	t_side = "T_PEER";
	s = socket(AF_INET, SOCK_STREAM, 0);
	a = t_lo(1);
	T("connect refused", connect(s, (struct sockaddr *)&a, sizeof(a)));
	t_subject("connect refused", s);
	T("connect refused, SO_ERROR", getsockopt(s, SOL_SOCKET, SO_ERROR, b, &l) == 0 ? *(int *)b : -1);
	close(s);
	t_side = "T_LOCAL";
}

static void test_options(int fd, const char *what)
{
	int v, one = 1;
	socklen_t l;
	struct timeval tv = {.tv_sec = 3, .tv_usec = 0}, got;
	char name[80];

#define OPT(o)                                                                   \
	do {                                                                         \
		l = sizeof(v);                                                           \
		v = -1;                                                                  \
		snprintf(name, sizeof(name), "%s getsockopt " #o, what);                 \
		T(name, getsockopt(fd, SOL_SOCKET, o, &v, &l) == 0 ? v : -1);            \
	} while (0)
	OPT(SO_TYPE);
	OPT(SO_DOMAIN);
	OPT(SO_PROTOCOL);
	OPT(SO_ACCEPTCONN);
	OPT(SO_ERROR);
	snprintf(name, sizeof(name), "%s setsockopt SO_RCVTIMEO", what);
	T(name, setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	l = sizeof(got);
	getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &got, &l);
	SAY("%s SO_RCVTIMEO = %ld.%06ld len %u", what, (long)got.tv_sec, (long)got.tv_usec, l);
	tv.tv_sec = 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	snprintf(name, sizeof(name), "%s setsockopt SO_RCVTIMEO short", what);
	T(name, setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, 4));
	snprintf(name, sizeof(name), "%s TCP_NODELAY", what);
	T(name, setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)));
	snprintf(name, sizeof(name), "%s TCP_CORK on", what);
	T(name, setsockopt(fd, IPPROTO_TCP, TCP_CORK, &one, sizeof(one)));
	v = 0;
	snprintf(name, sizeof(name), "%s TCP_CORK off", what);
	T(name, setsockopt(fd, IPPROTO_TCP, TCP_CORK, &v, sizeof(v)));
	snprintf(name, sizeof(name), "%s TCP_DEFER_ACCEPT", what);
	T(name, setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &one, sizeof(one)));
	snprintf(name, sizeof(name), "%s TCP_FASTOPEN", what);
	v = 5;
	T(name, setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN, &v, sizeof(v)));
	snprintf(name, sizeof(name), "%s SO_KEEPALIVE", what);
	T(name, setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)));
	snprintf(name, sizeof(name), "%s bad level", what);
	T(name, setsockopt(fd, 12345, 1, &one, sizeof(one)));
	snprintf(name, sizeof(name), "%s int opt short", what);
	T(name, setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, 2));
#undef OPT
}

static void test_stream(int side_listen)
{
	unsigned short port;
	int ls = t_listener(0, &port), c, s, s2, d, v;
	struct sockaddr_in peer;
	socklen_t pl = sizeof(peer);
	char buf[256];
	struct iovec iov[3];
	struct msghdr mh = {0};

	T("listen twice", listen(ls, 511));
	T("ioctl FIONBIO on", ioctl(ls, FIONBIO, &(int){1}));
	T("fcntl F_GETFL nonblock", (fcntl(ls, F_GETFL) & O_NONBLOCK) != 0);
	T("accept4 nothing", accept4(ls, NULL, NULL, SOCK_NONBLOCK));
	T("ioctl FIONBIO off", ioctl(ls, FIONBIO, &(int){0}));
	T("fcntl F_GETFL blocking", (fcntl(ls, F_GETFL) & O_NONBLOCK) != 0);
	test_options(ls, "listener");
	T("FIONREAD listener", ioctl(ls, FIONREAD, &v));

	c = t_connect(port);
	s = accept4(ls, (struct sockaddr *)&peer, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
	T("accept4", s >= 0);
	if (side_listen) {
		t_subject("stream listener", ls);
		t_subject("stream accepted", s);
	} else {
		t_subject("stream connected", c);
	}
	T("accept4 peer family", peer.sin_family);
	T("accept4 peer len", pl);
	{
		struct sockaddr_in cn;
		socklen_t cl = sizeof(cn);
		getsockname(c, (struct sockaddr *)&cn, &cl);
		T("accept4 peer is the client", peer.sin_port == cn.sin_port);
	}
	T("accepted nonblock", (fcntl(s, F_GETFL) & O_NONBLOCK) != 0);
	T("accepted cloexec", fcntl(s, F_GETFD) & FD_CLOEXEC);
	test_options(s, "accepted");
	test_options(c, "connected");
	{
		struct sockaddr_in a1, a2;
		socklen_t l1 = sizeof(a1), l2 = sizeof(a2);
		getsockname(c, (struct sockaddr *)&a1, &l1);
		getpeername(s, (struct sockaddr *)&a2, &l2);
		T("peername matches client name", a1.sin_port == a2.sin_port && l1 == l2);
		l1 = 4;
		T("getsockname truncated", getsockname(s, (struct sockaddr *)&a1, &l1));
		T("getsockname truncated len", l1);
	}

	T("recv nothing", recv(s, buf, sizeof(buf), 0));
	T("send bad buffer", send(s, (void *)8, 4, MSG_NOSIGNAL));
	T("write", write(c, "q", 1));
	wait_in(s);
	T("recv bad buffer", recv(s, (void *)8, 4, 0));
	T("recv after the bad buffer", recv(s, buf, sizeof(buf), 0));
	T("recvfrom bad addrlen", recvfrom(s, buf, 1, MSG_DONTWAIT, (struct sockaddr *)&peer, &(socklen_t){(socklen_t)-1}));
	T("write zero", write(c, buf, 0));
	T("send zero", send(c, buf, 0, 0));
	T("write", write(c, "hello", 5));
	wait_in(s);
	T("FIONREAD", ioctl(s, FIONREAD, &v) == 0 ? v : -1);
	T("recv peek", recv(s, buf, 3, MSG_PEEK));
	T("read", read(s, buf, sizeof(buf)));
	SAY("read bytes = %.5s", buf);

	iov[0] = (struct iovec){"ab", 2};
	iov[1] = (struct iovec){"", 0};
	iov[2] = (struct iovec){"cdef", 4};
	T("writev", writev(c, iov, 3));
	wait_in(s);
	memset(buf, 0, sizeof(buf));
	iov[0] = (struct iovec){buf, 1};
	iov[1] = (struct iovec){buf + 1, 2};
	iov[2] = (struct iovec){buf + 3, 100};
	T("readv", readv(s, iov, 3));
	SAY("readv bytes = %s", buf);

	T("sendto stream", sendto(s, "xyz", 3, 0, NULL, 0));
	wait_in(c);
	pl = sizeof(peer);
	T("recvfrom stream", recvfrom(c, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &pl));
	T("recvfrom stream addrlen", pl);

	iov[0] = (struct iovec){"msg", 3};
	iov[1] = (struct iovec){"hdr", 3};
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;
	T("sendmsg", sendmsg(c, &mh, MSG_NOSIGNAL));
	wait_in(s);
	memset(buf, 0, sizeof(buf));
	iov[0] = (struct iovec){buf, sizeof(buf)};
	mh.msg_iovlen = 1;
	T("recvmsg", recvmsg(s, &mh, 0));
	SAY("recvmsg bytes = %s flags %d", buf, mh.msg_flags);

	{
		struct mmsghdr mm[2];
		struct iovec v1 = {"one", 3}, v2 = {"two", 3};
		memset(mm, 0, sizeof(mm));
		mm[0].msg_hdr.msg_iov = &v1;
		mm[0].msg_hdr.msg_iovlen = 1;
		mm[1].msg_hdr.msg_iov = &v2;
		mm[1].msg_hdr.msg_iovlen = 1;
		T("sendmmsg", sendmmsg(c, mm, 2, 0));
		T("sendmmsg len0", mm[0].msg_len);
		wait_in(s);
		usleep(20000);
		memset(buf, 0, sizeof(buf));
		v1 = (struct iovec){buf, sizeof(buf)};
		T("recvmmsg", recvmmsg(s, mm, 1, MSG_DONTWAIT, NULL));
		SAY("recvmmsg bytes = %s len %u", buf, mm[0].msg_len);
	}

	/* sendfile from a file, with and without an offset */
	{
		char path[] = "/tmp/shimt-sf.XXXXXX";
		int f = mkstemp(path);
		off_t off = 2;
		char data[3000];
		for (int i = 0; i < (int)sizeof(data); i++)
			data[i] = (char)('a' + i % 26);
		if (f < 0 || write(f, data, sizeof(data)) != (ssize_t)sizeof(data))
			DIE("tmp file");
		unlink(path);
		lseek(f, 10, SEEK_SET);
		T("sendfile offset", sendfile(s, f, &off, 100));
		T("sendfile offset after", off);
		T("file pos unchanged", lseek(f, 0, SEEK_CUR));
		T("sendfile no offset", sendfile(s, f, NULL, 50));
		T("file pos advanced", lseek(f, 0, SEEK_CUR));
		T("sendfile past end", sendfile(s, f, &(off_t){5000}, 10));
		T("sendfile bad in fd", sendfile(s, 9999, NULL, 10));
		close(f);
		int got = 0, n;
		char rb[200];
		while (got < 150 && (n = (wait_in(c), (int)read(c, rb + got, sizeof(rb) - (size_t)got))) > 0)
			got += n;
		SAY("sendfile received %d first %.4s at100 %.4s", got, rb, rb + 100);
	}

	/* dup family: the copy is the same socket */
	d = dup(s);
	T("dup", d > s);
	T("write on dup", write(d, "D", 1));
	wait_in(c);
	T("read from dup's peer", read(c, buf, 10));
	s2 = 100;
	T("dup2", dup2(s, s2));
	T("fcntl F_DUPFD", (v = fcntl(s, F_DUPFD, 200)) >= 200);
	close(v);
	T("fcntl F_DUPFD_CLOEXEC flag", (v = fcntl(s, F_DUPFD_CLOEXEC, 0), fcntl(v, F_GETFD)));
	close(v);
	T("dup3 cloexec", (v = dup3(s, 150, O_CLOEXEC), fcntl(v, F_GETFD)));
	close(v);
	T("dup3 same fd", dup3(s, s, 0));
	T("close original", close(s));
	T("send on dup2 copy", send(s2, "E", 1, 0));
	wait_in(c);
	T("read E", read(c, buf, 10));
	T("setfl on dup affects copy", fcntl(d, F_SETFL, 0) == 0 && !(fcntl(s2, F_GETFL) & O_NONBLOCK));
	close(d);

	/* SO_RCVTIMEO on a blocking read: EAGAIN after the timeout */
	{
		struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
		setsockopt(s2, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		T("recv timeout", recv(s2, buf, sizeof(buf), 0));
	}

	/* shutdown: the peer reads end of stream; writes after SHUT_WR fail */
	T("shutdown SHUT_WR", shutdown(s2, SHUT_WR));
	wait_in(c);
	T("peer reads EOF", read(c, buf, sizeof(buf)));
	T("send after SHUT_WR", send(s2, "x", 1, MSG_NOSIGNAL));
	sigpipes = 0;
	T("write after SHUT_WR SIGPIPE", (write(s2, "x", 1) < 0 ? errno : 0) == EPIPE && sigpipes == 1);
	T("peer still sends", write(c, "late", 4));
	wait_in(s2);
	T("read after SHUT_WR", read(s2, buf, sizeof(buf)));
	close(c);
	wait_in(s2);
	T("read EOF", read(s2, buf, sizeof(buf)));
	close(s2);
	close(ls);
}

static void test_reset(int side_listen)
{
	unsigned short port;
	int ls = t_listener(0, &port), c, s;
	struct linger lg = {1, 0};
	char buf[16];

	c = t_connect(port);
	s = accept(ls, NULL, NULL);
	T("accept plain", s >= 0);
	t_subject(side_listen ? "reset accepted" : "reset connected", side_listen ? s : c);
	T("accept plain blocking", (fcntl(s, F_GETFL) & O_NONBLOCK) != 0);
	setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(c); /* RST */
	wait_in(s);
	T("recv after RST", recv(s, buf, sizeof(buf), 0));
	T("send after RST", send(s, "x", 1, MSG_NOSIGNAL));
	close(s);

	/* nonblocking connect: EINPROGRESS, then writable, SO_ERROR 0 */
	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = t_lo(port);
	int r = connect(c, (struct sockaddr *)&a, sizeof(a));
	T("nonblocking connect", r == 0 || errno == EINPROGRESS);
	if (!side_listen)
		t_subject("nonblocking connect", c);
	struct pollfd p = {.fd = c, .events = POLLOUT};
	T("poll connect", poll(&p, 1, 5000));
	T("poll connect revents", p.revents);
	int err = -1;
	socklen_t l = sizeof(err);
	T("SO_ERROR after connect", getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &l) == 0 ? err : -1);
	T("connect again", connect(c, (struct sockaddr *)&a, sizeof(a)));
	s = accept(ls, NULL, NULL);
	close(s);
	close(c);
	close(ls);
}

static void test_udp(int side_listen)
{
	struct sockaddr_in a = t_side_addr(0, 1), from;
	socklen_t l = sizeof(a);
	int u1 = socket(AF_INET, SOCK_DGRAM, 0), u2 = socket(AF_INET, SOCK_DGRAM, 0);
	char buf[64];

	T("udp bind", bind(u1, (struct sockaddr *)&a, sizeof(a)));
	getsockname(u1, (struct sockaddr *)&a, &l);
	a.sin_addr = t_lo(0).sin_addr;
	if (side_listen)
		t_subject("udp bound", u1);
	test_options(u1, "udp");
	T("udp sendto", sendto(u2, "dgram", 5, 0, (struct sockaddr *)&a, sizeof(a)));
	T("udp sendto zero", sendto(u2, "", 0, 0, (struct sockaddr *)&a, sizeof(a)));
	wait_in(u1);
	l = sizeof(from);
	T("udp recvfrom", recvfrom(u1, buf, 3, 0, (struct sockaddr *)&from, &l));
	T("udp from len", l);
	{
		struct sockaddr_in n2;
		socklen_t l2 = sizeof(n2);
		getsockname(u2, (struct sockaddr *)&n2, &l2);
		T("udp from u2", from.sin_port == n2.sin_port);
	}
	T("udp zero datagram", recv(u1, buf, sizeof(buf), 0));
	T("udp nothing", recv(u1, buf, sizeof(buf), MSG_DONTWAIT));
	T("udp send unconnected", send(u2, "x", 1, 0));
	T("udp connect", connect(u2, (struct sockaddr *)&a, sizeof(a)));
	if (!side_listen)
		t_subject("udp connected", u2);
	test_options(u2, "udp connected");
	T("udp send connected", send(u2, "conn", 4, 0));
	wait_in(u1);
	T("udp recv truncated", recv(u1, buf, 2, MSG_TRUNC));
	close(u1);
	close(u2);
}

int main(void)
{
	signal(SIGPIPE, on_sigpipe);
	t_start();
	t_side = "T_LOCAL";
	test_errors();
	for (int side_listen = 1; side_listen >= 0; side_listen--) {
		t_side = side_listen ? "T_LOCAL" : "T_PEER";
		SAY("-- %s", side_listen ? "listening and accepted sockets on T_LOCAL" : "connecting sockets to T_PEER");
		test_stream(side_listen);
		test_reset(side_listen);
		test_udp(side_listen);
	}
	/* AF_UNIX: the kernel's, never bypassed */
	T("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, (int[2]){0}));
	SAY("sigpipes = %d", (int)sigpipes);
	return 0;
}
