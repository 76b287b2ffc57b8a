/* AF_INET6 TCP sockets call by call, run on the kernel and under the shim
 * with the sockets bypassed (tests/shim/sock6_tap.sh): IPV6_V6ONLY,
 * IPV6_TCLASS and IPV6_UNICAST_HOPS set and read back (V6ONLY EINVAL once
 * bound), getsockname/getpeername in the program's family (v4-mapped for an
 * IPv4 client of a dual-stack listener), a V6ONLY listener on the stack's
 * address6, and a connecting AF_INET6 socket. Addresses from the environment:
 * T_LOCAL/T_LOCAL6 (the stack's), T_PEER/T_PEER6 (the kernel end); ports
 * 7061 and 7062 are in [bypass] listen; 7063 is the kernel's. */
#include <fcntl.h>

#include "t.h"

static const char *env(const char *n)
{
	const char *v = getenv(n);
	if (!v || !*v)
		DIE("%s unset", n);
	return v;
}

static struct sockaddr_in6 a6(const char *var, unsigned short port)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	if (var && inet_pton(AF_INET6, env(var), &a.sin6_addr) != 1)
		DIE("bad %s", var);
	return a;
}

static struct sockaddr_in a4(const char *var, unsigned short port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	if (inet_pton(AF_INET, env(var), &a.sin_addr) != 1)
		DIE("bad %s", var);
	return a;
}

/* an address as the program sees it: family, address (with the port only
 * when it is a fixed one) and the length returned */
static void say_addr(const char *what, int rc, const struct sockaddr_storage *ss, socklen_t len, int port_too)
{
	char h[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (rc < 0) {
		SAY("%s = -1 %s", what, t_errname(errno));
		return;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)ss;
		inet_ntop(AF_INET6, &s->sin6_addr, h, sizeof(h));
		port = ntohs(s->sin6_port);
	} else if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)ss;
		inet_ntop(AF_INET, &s->sin_addr, h, sizeof(h));
		port = ntohs(s->sin_port);
	}
	if (port_too)
		SAY("%s = family %d %s port %u len %u", what, ss->ss_family, h, port, (unsigned)len);
	else
		SAY("%s = family %d %s len %u", what, ss->ss_family, h, (unsigned)len);
}

static void names(const char *what, int fd, int local_port, int peer_port)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);
	char n[64];
	int rc;

	memset(&ss, 0, sizeof(ss));
	rc = getsockname(fd, (struct sockaddr *)&ss, &l);
	snprintf(n, sizeof(n), "%s getsockname", what);
	say_addr(n, rc, &ss, l, local_port);
	l = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	rc = getpeername(fd, (struct sockaddr *)&ss, &l);
	snprintf(n, sizeof(n), "%s getpeername", what);
	say_addr(n, rc, &ss, l, peer_port);
}

static int geti(int fd, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);
	if (getsockopt(fd, level, name, &v, &l) < 0)
		return -1000 - errno;
	return v;
}

static void opts(const char *what, int fd)
{
	char n[64];
	snprintf(n, sizeof(n), "%s V6ONLY", what);
	T(n, geti(fd, IPPROTO_IPV6, IPV6_V6ONLY));
	snprintf(n, sizeof(n), "%s set TCLASS 0x28", what);
	T(n, setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &(int){0x28}, sizeof(int)));
	snprintf(n, sizeof(n), "%s TCLASS", what);
	T(n, geti(fd, IPPROTO_IPV6, IPV6_TCLASS));
	snprintf(n, sizeof(n), "%s set UNICAST_HOPS 9", what);
	T(n, setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &(int){9}, sizeof(int)));
	snprintf(n, sizeof(n), "%s UNICAST_HOPS", what);
	T(n, geti(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS));
	snprintf(n, sizeof(n), "%s set UNICAST_HOPS 300", what);
	T(n, setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &(int){300}, sizeof(int)));
	snprintf(n, sizeof(n), "%s set V6ONLY", what);
	T(n, setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &(int){1}, sizeof(int)));
	snprintf(n, sizeof(n), "%s SO_DOMAIN", what);
	T(n, geti(fd, SOL_SOCKET, SO_DOMAIN));
}

static int accept_one(int l)
{
	struct pollfd p = {.fd = l, .events = POLLIN};
	if (poll(&p, 1, 10000) != 1)
		DIE("poll accept");
	return accept(l, NULL, NULL);
}

static void echo(const char *what, int a, int c)
{
	char b[8] = {0};
	char n[64];
	struct pollfd p = {.fd = c, .events = POLLOUT};
	if (poll(&p, 1, 10000) != 1)
		DIE("poll connected");
	fcntl(c, F_SETFL, 0);
	snprintf(n, sizeof(n), "%s send", what);
	T(n, send(c, "hello", 5, 0));
	snprintf(n, sizeof(n), "%s recv", what);
	T(n, recv(a, b, 5, MSG_WAITALL));
	SAY("%s data = %s", what, b);
}

/* a blocking kernel-side client: a socket of family fam bound to the peer's
 * address, connected to dst */
static int client(int fam, const struct sockaddr *dst, socklen_t dlen)
{
	int c = socket(fam, SOCK_STREAM, 0);
	int rc;
	if (fam == AF_INET6) {
		struct sockaddr_in6 b = a6("T_PEER6", 0);
		rc = bind(c, (struct sockaddr *)&b, sizeof(b));
	} else {
		struct sockaddr_in b = a4("T_PEER", 0);
		rc = bind(c, (struct sockaddr *)&b, sizeof(b));
	}
	if (rc < 0)
		DIE("client bind");
	/* not blocking: under the shim, the program's own waits (poll of the
	 * listener in accept_one) drive the stack that answers */
	fcntl(c, F_SETFL, O_NONBLOCK);
	if (connect(c, dst, dlen) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(c);
		errno = e;
		return -1;
	}
	return c;
}

int main(void)
{
	const char *ready = getenv("T_READY");
	int l, o, c, a, one = 1;

	t_side = "T_LOCAL"; /* t_subject: said in the shim's run */

	/* the stack starts with a first listener; the script says when its
	 * tap and IPv6 address are up */
	if (ready && *ready) {
		struct sockaddr_in s0 = a4("T_LOCAL", 0);
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (s < 0 || bind(s, (struct sockaddr *)&s0, sizeof(s0)) < 0 || listen(s, 1) < 0)
			DIE("first socket");
		for (int i = 0; i < 600 && access(ready, F_OK) != 0; i++)
			poll(&(struct pollfd){.fd = s, .events = POLLIN}, 1, 50);
		close(s);
	}

	/* a dual-stack listener on [::]:7061 */
	l = socket(AF_INET6, SOCK_STREAM, 0);
	T("listener V6ONLY default", geti(l, IPPROTO_IPV6, IPV6_V6ONLY));
	T("listener set V6ONLY 1", setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)));
	T("listener V6ONLY", geti(l, IPPROTO_IPV6, IPV6_V6ONLY));
	T("listener set V6ONLY short", setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &one, 2));
	T("listener set V6ONLY 0", setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &(int){0}, sizeof(int)));
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in6 any = a6(NULL, 7061);
	T("listener bind [::]:7061", bind(l, (struct sockaddr *)&any, sizeof(any)));
	T("listener set V6ONLY after bind", setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)));
	T("listener listen", listen(l, 8));
	t_subject("dual-stack listener", l);
	names("listener", l, 1, 1);

	/* an IPv6 client */
	struct sockaddr_in6 d6 = a6("T_LOCAL6", 7061);
	c = client(AF_INET6, (struct sockaddr *)&d6, sizeof(d6));
	T("v6 client connect", c < 0 ? -1 : 0);
	a = accept_one(l);
	T("v6 accept", a < 0 ? -1 : 0);
	t_subject("accepted v6", a);
	names("accepted v6", a, 1, 0);
	opts("accepted v6", a);
	echo("v6", a, c);
	close(c);
	close(a);

	/* an IPv4 client of the same listener: ::ffff:a.b.c.d */
	struct sockaddr_in d4 = a4("T_LOCAL", 7061);
	c = client(AF_INET, (struct sockaddr *)&d4, sizeof(d4));
	T("v4 client connect", c < 0 ? -1 : 0);
	a = accept_one(l);
	T("v4 accept", a < 0 ? -1 : 0);
	t_subject("accepted v4", a);
	names("accepted v4", a, 1, 0);
	T("accepted v4 V6ONLY", geti(a, IPPROTO_IPV6, IPV6_V6ONLY));
	echo("v4", a, c);
	close(c);
	close(a);
	close(l);

	/* a V6ONLY listener on the stack's own address6 */
	o = socket(AF_INET6, SOCK_STREAM, 0);
	T("v6only set", setsockopt(o, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)));
	struct sockaddr_in6 own = a6("T_LOCAL6", 7062);
	T("v6only bind own address", bind(o, (struct sockaddr *)&own, sizeof(own)));
	T("v6only set V6ONLY after bind", setsockopt(o, IPPROTO_IPV6, IPV6_V6ONLY, &(int){0}, sizeof(int)));
	T("v6only V6ONLY", geti(o, IPPROTO_IPV6, IPV6_V6ONLY));
	T("v6only listen", listen(o, 8));
	t_subject("v6only listener", o);
	names("v6only listener", o, 1, 1);
	c = client(AF_INET6, (struct sockaddr *)&own, sizeof(own));
	T("v6only v6 client connect", c < 0 ? -1 : 0);
	a = accept_one(o);
	names("v6only accepted", a, 1, 0);
	close(a);
	close(c);
	close(o);

	/* a connecting AF_INET6 socket: bound to the stack's address6, to a
	 * kernel listener on the peer's */
	l = socket(AF_INET6, SOCK_STREAM, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in6 kp = a6("T_PEER6", 7063);
	if (bind(l, (struct sockaddr *)&kp, sizeof(kp)) < 0 || listen(l, 8) < 0)
		DIE("kernel listener");
	c = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 me = a6("T_LOCAL6", 0);
	T("connector bind own address", bind(c, (struct sockaddr *)&me, sizeof(me)));
	T("connector set V6ONLY after bind", setsockopt(c, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)));
	T("connector connect", connect(c, (struct sockaddr *)&kp, sizeof(kp)));
	t_subject("connector", c);
	a = accept_one(l);
	names("connector", c, 0, 1);
	names("connector's peer", a, 1, 0);
	opts("connector", c);
	echo("connector", a, c);
	close(a);
	close(c);

	/* an AF_INET6 socket on IPv4: bound to the stack's IPv4 address
	 * v4-mapped, connected to a kernel listener's ::ffff:a.b.c.d */
	{
		struct sockaddr_in k4 = a4("T_PEER", 7064);
		struct sockaddr_in6 m = {.sin6_family = AF_INET6}, p = {.sin6_family = AF_INET6, .sin6_port = htons(7064)};
		struct sockaddr_in me4 = a4("T_LOCAL", 0);
		int kl = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(kl, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(kl, (struct sockaddr *)&k4, sizeof(k4)) < 0 || listen(kl, 8) < 0)
			DIE("kernel IPv4 listener");
		m.sin6_addr.s6_addr[10] = m.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&m.sin6_addr.s6_addr[12], &me4.sin_addr, 4);
		p.sin6_addr = m.sin6_addr;
		memcpy(&p.sin6_addr.s6_addr[12], &k4.sin_addr, 4);
		c = socket(AF_INET6, SOCK_STREAM, 0);
		T("mapped bind own IPv4 address", bind(c, (struct sockaddr *)&m, sizeof(m)));
		T("mapped connect", connect(c, (struct sockaddr *)&p, sizeof(p)));
		t_subject("mapped connector", c);
		a = accept_one(kl);
		names("mapped connector", c, 0, 1);
		names("mapped connector's peer", a, 1, 0);
		T("mapped V6ONLY", geti(c, IPPROTO_IPV6, IPV6_V6ONLY));
		echo("mapped", a, c);
		close(a);
		close(c);
		close(kl);
	}

	/* connect with an IPv4 address on an AF_INET6 socket: Linux's EAFNOSUPPORT */
	c = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in kp4 = a4("T_PEER", 7063);
	T("connect AF_INET address", connect(c, (struct sockaddr *)&kp4, sizeof(kp4)));
	close(c);
	close(l);
	return 0;
}
