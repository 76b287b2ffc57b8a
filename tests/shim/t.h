/* Helpers for the shim test programs: each observation is one line
 * "name = value [errno]" on stdout, so a run on the kernel and a run under
 * the shim can be compared line by line. Nothing printed may depend on
 * timing, ports or pids. */
#ifndef SHIM_T_H
#define SHIM_T_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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

/* a TCP listener on ANY (port chosen by the kernel), its port in *port */
static inline int t_listener(int type_flags, unsigned short *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
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

static inline struct sockaddr_in t_lo(unsigned short port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
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
