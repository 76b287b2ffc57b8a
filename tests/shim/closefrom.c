/* A program that closes every fd above 2 it may have inherited, as daemons
 * and process spawners do, after its first connection is up:
 *   closefrom ADDR PORT   closefrom(3)
 *   range ADDR PORT       close_range(3, ~0U, 0)
 *   loop ADDR PORT        close(fd) for fd 3..1023, each result counted
 *   dup2 ADDR PORT        dup2(first socket, fd) for fd 4..1023, then
 *                         closefrom(3); the numbers refused (EBUSY: the
 *                         runtime's, under the shim) said on stderr
 * The first connection's socket is closed by it, as on Linux; a new
 * connection then echoes 256 KiB through the peer (tests/shim/peer.py
 * echo-multi), byte-exact. Under the shim, the runtime's own fds (the tap's
 * queues, eventfds...) must survive: the new socket is bypassed too. */
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>

#include "t.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC 4
#endif

static void echo(int s, size_t total, const char *what)
{
	static unsigned char out[256 * 1024], in[sizeof(out)];
	size_t sent = 0, got = 0;

	for (size_t i = 0; i < total; i++)
		out[i] = (unsigned char)(i * 7 + 3);
	while (got < total) {
		struct pollfd p = {.fd = s, .events = POLLIN | (sent < total ? POLLOUT : 0)};
		if (poll(&p, 1, 10000) != 1)
			DIE("%s: poll timed out at %zu/%zu", what, got, total);
		if ((p.revents & POLLOUT) && sent < total) {
			ssize_t n = send(s, out + sent, total - sent < 16384 ? total - sent : 16384, MSG_DONTWAIT);
			if (n > 0)
				sent += (size_t)n;
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = recv(s, in + got, total - got, MSG_DONTWAIT);
			if (n == 0)
				DIE("%s: EOF at %zu", what, got);
			if (n > 0)
				got += (size_t)n;
		}
	}
	SAY("%s echoed %zu bytes, identical %d", what, got, memcmp(in, out, total) == 0);
}

int main(int argc, char **argv)
{
	int s, ebadf = 0, closed = 0;

	if (argc != 4)
		DIE("usage: closefrom closefrom|range|loop ADDR PORT");
	s = t_connect_addr(argv[2], atoi(argv[3]));
	echo(s, 1000, "first");
	if (!strcmp(argv[1], "closefrom")) {
		closefrom(3);
		SAY("closefrom(3) done");
	} else if (!strcmp(argv[1], "range")) {
		T("close_range(3, ~0U, CLOEXEC)", close_range(3, ~0U, CLOSE_RANGE_CLOEXEC));
		T("close_range(3, ~0U, 0)", close_range(3, ~0U, 0));
	} else if (!strcmp(argv[1], "dup2")) {
		int busy = 0, other = 0;
		for (int fd = 4; fd < 1024; fd++) {
			if (dup2(s, fd) == fd)
				continue;
			if (errno == EBUSY)
				busy++;
			else
				other++;
		}
		fprintf(stderr, "dup2 refused %d (EBUSY), failed %d\n", busy, other);
		closefrom(3);
		SAY("dup2 onto every number, then closefrom(3) done");
	} else {
		for (int fd = 3; fd < 1024; fd++) {
			if (close(fd) == 0)
				closed++;
			else if (errno == EBADF)
				ebadf++;
		}
		SAY("close loop: %d closed (the socket), %d EBADF", closed, ebadf);
	}
	/* the first socket went with the rest */
	T("send on the closed socket", send(s, "x", 1, MSG_NOSIGNAL));
	T("fcntl on the closed socket", fcntl(s, F_GETFD));
	s = t_connect_addr(argv[2], atoi(argv[3]));
	T("new socket", s == 3);
	echo(s, 256 * 1024, "second");
	close(s);
	/* the peer stops */
	s = t_connect_addr(argv[2], atoi(argv[3]));
	T("quit", send(s, "QUIT", 4, 0));
	close(s);
	return 0;
}
