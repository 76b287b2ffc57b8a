/* Helpers for the shim test programs: each observation is one line
 * "name = value [errno]" on stdout, so a run on the kernel and a run under
 * the shim can be compared line by line. Nothing printed may depend on
 * timing, ports or pids. */
#ifndef SHIM_T_H
#define SHIM_T_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static inline const char *t_errname(int e)
{
	switch (e) {
#define E(x) case x: return #x;
	E(EAGAIN) E(EBADF) E(EINVAL) E(EFAULT) E(ENOTCONN) E(EPIPE) E(ECONNREFUSED) E(EINPROGRESS)
	E(EISCONN) E(EALREADY) E(EADDRINUSE) E(EOPNOTSUPP) E(ENOTSOCK) E(EINTR) E(EEXIST) E(ENOENT)
	E(ENOPROTOOPT) E(ECONNRESET) E(EAFNOSUPPORT) E(EDESTADDRREQ) E(EMSGSIZE) E(ENOTTY) E(ESPIPE)
	E(EADDRNOTAVAIL) E(ETIMEDOUT) E(EPERM) E(EACCES) E(ELOOP)
#undef E
	default: return "E?";
	}
}

/* print a call's result: the value, and errno's name when it failed */
#define T(name, expr)                                                              \
	do {                                                                           \
		long t_rc = (long)(expr);                                                  \
		int t_e = errno;                                                           \
		if (t_rc < 0)                                                              \
			printf("%s = %ld %s\n", (name), t_rc, t_errname(t_e));                \
		else                                                                       \
			printf("%s = %ld\n", (name), t_rc);                                   \
		fflush(stdout);                                                            \
	} while (0)

#define SAY(...)                                                                   \
	do {                                                                           \
		printf(__VA_ARGS__);                                                       \
		printf("\n");                                                              \
		fflush(stdout);                                                            \
	} while (0)

#define DIE(...)                                                                   \
	do {                                                                           \
		fprintf(stderr, "fatal: " __VA_ARGS__);                                    \
		fprintf(stderr, " (errno %d)\n", errno);                                   \
		exit(2);                                                                   \
	} while (0)

/* The side a case's sockets bind to and connect to, for runs with the
 * sockets bypassed (tests/lib/shim.sh, shim_compare_bypassed): the name of
 * an environment variable holding an address, T_LOCAL (the stack's: a
 * socket bound to it is bypassed) or T_PEER (the kernel end of the tap: a
 * socket connecting to it is bypassed). Unset, or the variable unset:
 * sockets bind to ANY and connect to loopback. */
static const char *t_side;

static inline struct sockaddr_in t_side_addr(unsigned short port, int for_bind)
{
	const char *v = t_side ? getenv(t_side) : NULL;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	if (v && *v) {
		if (inet_pton(AF_INET, v, &a.sin_addr) != 1) {
			fprintf(stderr, "fatal: bad address %s\n", v);
			exit(2);
		}
	} else {
		a.sin_addr.s_addr = htonl(for_bind ? INADDR_ANY : INADDR_LOOPBACK);
	}
	return a;
}

/* A socket the case expects on the stack in a bypassed run: said on
 * stderr (not compared), where the shim's log (level debug) says which side
 * fd went to; tests/lib/shim.sh checks the last word on fd before it. */
static inline void t_subject(const char *name, int fd)
{
	if (t_side && getenv(t_side) && *getenv(t_side))
		fprintf(stderr, "subject %s fd %d\n", name, fd);
}

/* In a bypassed run (T_READY set): a first socket on the stack's address
 * (T_LOCAL) starts the stack, whose tap then appears; the cases wait for
 * T_READY, the file the script makes once the tap's kernel end is up. */
static inline void t_start(void)
{
	const char *ready = getenv("T_READY");
	struct sockaddr_in a;
	int s, i;

	if (!ready || !*ready)
		return;
	t_side = "T_LOCAL";
	a = t_side_addr(0, 1);
	s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 1) < 0) {
		fprintf(stderr, "fatal: a first socket on T_LOCAL (errno %d)\n", errno);
		exit(2);
	}
	/* a listener's first wait starts the stack */
	for (i = 0; i < 600 && access(ready, F_OK) != 0; i++)
		poll(&(struct pollfd){.fd = s, .events = POLLIN}, 1, 50);
	close(s);
}

/* a TCP listener on the side's address (ANY by default; port chosen by the
 * kernel), its port in *port */
static inline int t_listener(int type_flags, unsigned short *port)
{
	struct sockaddr_in a = t_side_addr(0, 1);
	socklen_t l = sizeof(a);
	int one = 1;
	int s = socket(AF_INET, SOCK_STREAM | type_flags, 0);
	if (s < 0)
		DIE("socket");
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 16) < 0)
		DIE("bind/listen");
	getsockname(s, (struct sockaddr *)&a, &l);
	*port = ntohs(a.sin_port);
	return s;
}

/* the side's address to connect to (loopback by default) */
static inline struct sockaddr_in t_lo(unsigned short port)
{
	return t_side_addr(port, 0);
}

static inline int t_connect(unsigned short port)
{
	struct sockaddr_in a = t_lo(port);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) < 0)
		DIE("connect");
	return c;
}

/* a blocking TCP connection to ADDR:port (dotted quad), or exit 2 */
static inline int t_connect_addr(const char *addr, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		DIE("socket");
	if (inet_pton(AF_INET, addr, &a.sin_addr) != 1)
		DIE("bad address %s", addr);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) != 0)
		DIE("connect %s:%d", addr, port);
	return s;
}

#endif
