/* struct sock: the handle behind the public socket API. sock.c implements
 * the API by dispatching to the protocol's ops (tcp/sock.c, udp.c). */
#ifndef DEMI_SOCK_H
#define DEMI_SOCK_H

#include "demi/stack.h"
#include "ipaddr.h"

/* An endpoint as the protocols take and give it: the address (ipaddr.h:
 * IPv4 v4-mapped) and the port in host order. sock.c converts it from and
 * to the caller's struct sockaddr_in / sockaddr_in6 by the socket's family. */
struct sock_ep {
	union ip_addr addr;
	uint16_t port;
	uint16_t family; /* given: AF_INET, AF_INET6, AF_UNSPEC (connect: dissolve) */
};

struct sock_ops {
	int (*bind)(struct sock *s, const struct sock_ep *addr);
	int (*listen)(struct sock *s, int backlog);
	int (*accept)(struct sock *s, struct sock **out, struct sock_ep *peer);
	int (*connect)(struct sock *s, const struct sock_ep *addr);
	ssize_t (*send)(struct sock *s, const struct iovec *iov, int iovcnt, int flags, const struct sock_ep *to);
	ssize_t (*recv)(struct sock *s, const struct iovec *iov, int iovcnt, int flags, struct sock_ep *from);
	int (*shutdown)(struct sock *s, int how);
	int (*close)(struct sock *s); /* frees the protocol state's link to s; sock.c frees s */
	int (*setopt)(struct sock *s, int level, int name, const void *val, socklen_t len);
	int (*getopt)(struct sock *s, int level, int name, void *val, socklen_t *len);
	int (*name)(struct sock *s, struct sock_ep *local);
	int (*peer)(struct sock *s, struct sock_ep *peer);
	uint32_t (*events)(const struct sock *s);
	int (*take_error)(struct sock *s);
	size_t (*rx_bytes)(const struct sock *s);
	size_t (*tx_bytes)(const struct sock *s);
};

struct sock {
	struct stack *st;
	const struct sock_ops *ops;
	int type;        /* SOCK_STREAM, SOCK_DGRAM */
	int family;      /* AF_INET, AF_INET6 */
	uint8_t v6only;  /* IPV6_V6ONLY (AF_INET6) */
	void *proto;     /* struct tcb or struct udp_sock */
	sock_notify_fn notify;
	void *notify_arg;
};

/* A caller's address: 0, or -EAFNOSUPPORT for a family other than
 * AF_INET, AF_INET6, AF_UNSPEC. */
int sock_ep_parse(const struct sockaddr *sa, struct sock_ep *ep);
/* A connection's addresses for stack_foreach_sock: AF_INET6 when v6, else
 * AF_INET with the v4-mapped addresses' IPv4 ones. */
void sock_info_addr(struct sock_info *si, int v6, const union ip_addr *laddr, uint16_t lport,
		    const union ip_addr *raddr, uint16_t rport);

/* Allocate a handle of the given protocol (sock.c); NULL on no memory. */
struct sock *sock_alloc(struct stack *st, int type, const struct sock_ops *ops, void *proto);

/* Readiness of s may have changed: tell whoever waits on it. */
static inline void sock_wake(struct sock *s)
{
	if (s && s->notify)
		s->notify(s, s->notify_arg);
}

extern const struct sock_ops tcp_sock_ops; /* tcp/sock.c */
extern const struct sock_ops udp_sock_ops; /* udp.c */

/* Protocol constructors used by sock_create(). */
int tcp_sock_create(struct stack *st, struct sock **out);
int udp_sock_create(struct stack *st, struct sock **out);

#endif
