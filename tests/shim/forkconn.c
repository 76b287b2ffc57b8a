/* A connection used by forked children (tests/shim/forkconn_tap.sh): run on
 * the kernel and under the shim (where it stays in the parent's stack and
 * reaches the children through the parent's relay), the observations must
 * be identical.
 *
 *   forkconn ADDR PORT         the cases below, against tests/shim/forkpeer.py
 *   forkconn execd FD          (the exec'd program of case D)
 *   forkconn ADDR PORT orphan  the parent exits while its child still holds
 *                              the connection (the child reports after 1 s);
 *                              the child first tries to accept on a listener
 *                              of the parent's started stack (port 7601)
 *
 * A  the parent closes its copy right after fork; the child: poll and
 *    select with a timeout, a nonblocking read, getpeername, 1 MiB echoed
 *    with nonblocking reads and writes, shutdown and EOF
 * B  four children at once, each with its connection, 256 KiB echoed
 * C  the child _exits with data unread after writing 4444 bytes (the peer
 *    reports what it got)
 * D  exec after fork: the exec'd program uses the inherited connection */
#include <fcntl.h>
#include <poll.h>
#include <sys/select.h>
#include <sys/wait.h>

#include "t.h"

static struct sockaddr_in peer;

static int conn(char mode)
{
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&peer, sizeof(peer)) < 0)
		DIE("connect");
	if (write(c, &mode, 1) != 1)
		DIE("write mode");
	return c;
}

/* Echo n bytes through c with nonblocking reads and writes under poll. */
static int echo(int c, size_t n)
{
	static unsigned char out[1 << 20], in[1 << 20];
	size_t sent = 0, got = 0;

	for (size_t i = 0; i < n; i++)
		out[i] = (unsigned char)(i * 7 + i / 251);
	fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
	while (got < n) {
		struct pollfd p = {.fd = c, .events = POLLIN | (sent < n ? POLLOUT : 0)};
		if (poll(&p, 1, 10000) <= 0)
			return -1;
		if (sent < n && (p.revents & POLLOUT)) {
			ssize_t w = write(c, out + sent, n - sent > 65536 ? 65536 : n - sent);
			if (w < 0 && errno != EAGAIN)
				return -2;
			if (w > 0)
				sent += (size_t)w;
		}
		if (p.revents & (POLLIN | POLLHUP)) {
			ssize_t r = read(c, in + got, n - got);
			if (r == 0)
				return -3;
			if (r < 0 && errno != EAGAIN)
				return -4;
			if (r > 0)
				got += (size_t)r;
		}
	}
	fcntl(c, F_SETFL, fcntl(c, F_GETFL) & ~O_NONBLOCK);
	return memcmp(in, out, n) == 0;
}

static int wait_status(pid_t p)
{
	int st;
	if (waitpid(p, &st, 0) != p)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void case_a(void)
{
	int c = conn('E'), pp[2];
	char b[16];
	pid_t p;

	fflush(stdout);
	if ((p = fork()) < 0)
		DIE("fork");
	if (p == 0) {
		struct pollfd pf = {.fd = c, .events = POLLIN};
		struct sockaddr_in a;
		socklen_t al = sizeof(a);
		fd_set rs;
		struct timeval tv = {0, 300000};

		if (pipe(pp) < 0)
			DIE("pipe");
		T("A child: poll, nothing yet", poll(&pf, 1, 300));
		FD_ZERO(&rs);
		FD_SET(c, &rs);
		FD_SET(pp[0], &rs);
		T("A child: select, nothing yet", select((c > pp[0] ? c : pp[0]) + 1, &rs, NULL, NULL, &tv));
		T("A child: O_NONBLOCK", fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK));
		T("A child: nonblocking read, nothing yet", read(c, b, sizeof(b)));
		T("A child: write", write(c, "hello", 5));
		T("A child: poll for the echo", poll(&pf, 1, 5000));
		T("A child: read the echo", read(c, b, sizeof(b)));
		T("A child: write the pipe", write(pp[1], "x", 1));
		FD_ZERO(&rs);
		FD_SET(c, &rs);
		FD_SET(pp[0], &rs);
		tv = (struct timeval){1, 0};
		T("A child: select with the pipe", select((c > pp[0] ? c : pp[0]) + 1, &rs, NULL, NULL, &tv));
		SAY("A child: the pipe ready %d, the socket ready %d", FD_ISSET(pp[0], &rs), FD_ISSET(c, &rs));
		T("A child: getpeername", getpeername(c, (struct sockaddr *)&a, &al));
		SAY("A child: the peer's address %d", a.sin_family == AF_INET && a.sin_port == peer.sin_port &&
						       a.sin_addr.s_addr == peer.sin_addr.s_addr);
		T("A child: 1 MiB echoed", echo(c, 1 << 20));
		T("A child: shutdown SHUT_WR", shutdown(c, SHUT_WR));
		T("A child: EOF", read(c, b, sizeof(b)));
		T("A child: close", close(c));
		_exit(0);
	}
	T("A parent: close its copy at once", close(c));
	SAY("A child's status %d", wait_status(p));
}

static void case_b(void)
{
	int c[4];
	pid_t p[4];

	for (int i = 0; i < 4; i++)
		c[i] = conn('E');
	fflush(stdout);
	for (int i = 0; i < 4; i++) {
		if ((p[i] = fork()) < 0)
			DIE("fork");
		if (p[i] == 0) {
			int ok = echo(c[i], 256 << 10) == 1;
			shutdown(c[i], SHUT_WR);
			char b;
			ok = ok && read(c[i], &b, 1) == 0;
			_exit(ok ? 10 + i : 1);
		}
	}
	for (int i = 0; i < 4; i++)
		close(c[i]);
	for (int i = 0; i < 4; i++)
		SAY("B child %d's status %d", i, wait_status(p[i]));
}

static void case_c(void)
{
	int c = conn('U');
	pid_t p;

	fflush(stdout);
	if ((p = fork()) < 0)
		DIE("fork");
	if (p == 0) {
		static char buf[4444];
		struct pollfd pf = {.fd = c, .events = POLLIN};
		memset(buf, 'c', sizeof(buf));
		T("C child: data waits unread", poll(&pf, 1, 5000));
		T("C child: write 4444", write(c, buf, sizeof(buf)));
		_exit(0);
	}
	close(c);
	SAY("C child's status %d", wait_status(p));
}

static void case_d(const char *self)
{
	int c = conn('E');
	pid_t p;
	char fdnum[16];

	fflush(stdout);
	if ((p = fork()) < 0)
		DIE("fork");
	if (p == 0) {
		snprintf(fdnum, sizeof(fdnum), "%d", c);
		execl(self, self, "execd", fdnum, (char *)NULL);
		_exit(3);
	}
	close(c);
	SAY("D child's status %d", wait_status(p));
}

static int execd(int c)
{
	char b[16];
	ssize_t got = 0, r;

	T("D exec'd: write", write(c, "via exec", 8));
	while (got < 8 && (r = read(c, b + got, sizeof(b) - (size_t)got)) > 0)
		got += r;
	SAY("D exec'd: echo %d", got == 8 && !memcmp(b, "via exec", 8));
	T("D exec'd: shutdown SHUT_WR", shutdown(c, SHUT_WR));
	T("D exec'd: EOF", read(c, b, sizeof(b)));
	return 0;
}

static int orphan(void)
{
	int c = conn('E'), ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(7601)};
	pid_t p;
	char b[8];

	/* a listener of the started stack, which the child cannot accept on */
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 8) < 0)
		DIE("listen");
	fflush(stdout);
	if ((p = fork()) < 0)
		DIE("fork");
	if (p == 0) {
		T("orphan child: accept on the parent's listener", accept(ls, NULL, NULL));
		sleep(1);
		T("orphan child: send", send(c, "x", 1, MSG_NOSIGNAL));
		T("orphan child: read", read(c, b, sizeof(b)));
		SAY("orphan child: done");
		_exit(0);
	}
	SAY("orphan parent: exits");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "execd"))
		return execd(atoi(argv[2]));
	if (argc != 3 && argc != 4)
		DIE("usage: forkconn ADDR PORT [orphan]");
	peer.sin_family = AF_INET;
	peer.sin_port = htons((unsigned short)atoi(argv[2]));
	inet_pton(AF_INET, argv[1], &peer.sin_addr);
	if (argc == 4)
		return orphan();
	case_a();
	case_b();
	case_c();
	case_d(argv[0]);
	SAY("done");
	return 0;
}
