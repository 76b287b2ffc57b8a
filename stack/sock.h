/* struct sock: the handle behind the public socket API. sock.c implements
 * the API by dispatching to the protocol's ops (tcp/sock.c, udp.c). */
#ifndef DEMI_SOCK_H
#define DEMI_SOCK_H

#include "demi/stack.h"

struct sock_ops {
	int (*bind)(struct sock *s, const struct sockaddr_in *addr);
	int (*listen)(struct sock *s, int backlog);
	int (*accept)(struct sock *s, struct sock **out, struct sockaddr_in *peer);
	int (*connect)(struct sock *s, const struct sockaddr_in *addr);
	ssize_t (*send)(struct sock *s, const struct iovec *iov, int iovcnt, int flags,
			const struct sockaddr_in *to);
	ssize_t (*recv)(struct sock *s, const struct iovec *iov, int iovcnt, int flags,
			struct sockaddr_in *from);
	int (*shutdown)(struct sock *s, int how);
	int (*close)(struct sock *s); /* frees the protocol state's link to s; sock.c frees s */
	int (*setopt)(struct sock *s, int level, int name, const void *val, socklen_t len);
	int (*getopt)(struct sock *s, int level, int name, void *val, socklen_t *len);
	int (*name)(struct sock *s, struct sockaddr_in *local);
	int (*peer)(struct sock *s, struct sockaddr_in *peer);
	uint32_t (*events)(const struct sock *s);
	int (*take_error)(struct sock *s);
	size_t (*rx_bytes)(const struct sock *s);
	size_t (*tx_bytes)(const struct sock *s);
};

struct sock {
	struct stack *st;
	const struct sock_ops *ops;
	int type;        /* SOCK_STREAM, SOCK_DGRAM */
	void *proto;     /* struct tcb or struct udp_sock */
	sock_notify_fn notify;
	void *notify_arg;
};

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
