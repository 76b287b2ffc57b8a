/* libdemi stack API: the protocol stack as the runtime (demi/rt.h), the shim
 * and tools see it; what they need of it is declared here.
 *
 * One struct stack per thread, shared-nothing, not thread-safe: a caller that
 * shares one between threads serialises the calls itself. Every call is
 * non-blocking and returns 0, a count, or a negative errno; blocking is built
 * above this by waiting on sock_events() while driving stack_poll().
 *
 * Time: the stack never reads a clock. stack_poll() takes the current time in
 * nanoseconds (CLOCK_MONOTONIC in the runtime, a fake clock in tests) and the
 * socket calls use the time of the latest poll. */
#ifndef DEMI_STACK_H
#define DEMI_STACK_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

struct stack;
struct sock;
struct netif;

enum stack_cc {
	STACK_CC_CUBIC = 0,
	STACK_CC_NEWRENO = 1,
};

struct stack_cfg {
	struct in_addr addr;    /* the stack's IPv4 address */
	uint8_t prefix_len;     /* e.g. 24 */
	struct in_addr gateway; /* INADDR_ANY: none */
	struct in6_addr addr6;  /* the stack's IPv6 address; :: (all zero): no IPv6 */
	uint8_t prefix6_len;    /* e.g. 64 */
	struct in6_addr gateway6; /* ::: none */
	uint32_t dad_wait_ms;   /* IPv6 Duplicate Address Detection: how long its NS waits for an
				 * answer (RFC 4861 RetransTimer); 0: 1000 */
	int no_dad;             /* IPv6 addresses in use at once, without DAD (tests) */
	uint16_t mtu;           /* 0: the netif's */
	enum stack_cc cc;
	uint8_t isn_secret[16]; /* RFC 6528 key; all zero: drawn with getrandom() */
	uint32_t max_socks;     /* 0: a default */
	int gratuitous_arp;     /* announce the address at start */
	int kernel_neigh;       /* the kernel owns ARP on the device (shared with it): the stack sends no
				 * ARP request or reply and learns neighbours only from stack_neigh_update */
	int shared_dev;         /* other processes use queues of the same device: a segment of a
	                         * connection this stack does not know may be one of theirs,
	                         * so it is dropped (DROP_TCP_NOT_OURS), never answered with a RST */
	/* shared_dev: sends a closed listener's connection or SYN (msg) to
	 * another process listening on lport (hash picks one, the same for a
	 * flow; UINT32_MAX: all of them); 0 if sent. NULL: a closed listener
	 * resets its queue. */
	int (*handover)(void *arg, uint16_t lport, const void *msg, size_t len, uint32_t hash);
	void *handover_arg;
};

struct stack_counters;

int stack_create(struct stack **out, const struct stack_cfg *cfg, struct netif *nif, uint64_t now_ns);
/* Aborts every connection (RST), frees every socket and buffer. The netif is not closed. */
void stack_destroy(struct stack *st);
/* Receive a burst, run protocol input, fire due timers, flush output.
 * Returns the amount of work done (0: nothing happened). */
int stack_poll(struct stack *st, uint64_t now_ns);
/* Earliest time a timer is due, UINT64_MAX if none: how long a poller may sleep. */
uint64_t stack_next_timer(const struct stack *st);
/* Hand the frames queued by socket calls to the device now (stack_poll
 * does so at its end). What the device refuses (a full ring, a link not up
 * yet) stays queued for the next flush; after half a second
 * (STACK_TX_HOLD_NS) without the device taking any, it is counted and freed. */
void stack_tx_flush(struct stack *st);
/* Counter values, indexed by enum stack_counter (stack/counters.h). */
const uint64_t *stack_counter_values(const struct stack *st, unsigned *n);
const char *stack_counter_name(unsigned i);
/* The index of the counter with this name (e.g. "TCP_RST_SENT"), -1 if none. */
int stack_counter_index(const char *name);

/* Neighbours learnt elsewhere (kernel_neigh: from the kernel's table): ip
 * is at mac, reachable for a while; what waited for ip is sent. 0, or
 * -ENOSPC when the cache is full of entries in use. */
int stack_neigh_update(struct stack *st, struct in_addr ip, const uint8_t mac[6]);
/* The gateway from now on (INADDR_ANY: none), as when the kernel's
 * default route changes on a device shared with it. */
void stack_set_gateway(struct stack *st, struct in_addr gw);
/* Up to max next hops the stack waits for (packets queued, no MAC yet);
 * returns how many. */
int stack_neigh_missing(struct stack *st, struct in_addr *out, int max);

/* Sockets of either family. An address argument is a struct sockaddr_in
 * or a struct sockaddr_in6, passed as a pointer to either (or to struct
 * sockaddr / sockaddr_storage): a transparent union, as glibc's own
 * __SOCKADDR_ARG, so IPv4 callers pass their struct sockaddr_in unchanged.
 * Given to the stack, its family field says which it is. Filled by the
 * stack, it is of the socket's family: a struct sockaddr_in for AF_INET, a
 * struct sockaddr_in6 for AF_INET6 (IPv4 peers v4-mapped, ::ffff:a.b.c.d,
 * as Linux's dual-stack sockets), so an AF_INET6 caller passes room for one. */
union sock_addr_in {
	const struct sockaddr *sa;
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;
	const struct sockaddr_storage *ss;
} __attribute__((transparent_union));
union sock_addr_out {
	struct sockaddr *sa;
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;
	struct sockaddr_storage *ss;
} __attribute__((transparent_union));

/* type: SOCK_STREAM or SOCK_DGRAM; an AF_INET socket. */
int sock_create(struct stack *st, int type, struct sock **out);
/* The same in a family: AF_INET, or AF_INET6. An AF_INET6 socket bound to
 * :: (or never bound) serves IPv4 peers too, unless IPV6_V6ONLY is set
 * (sock_setopt, IPPROTO_IPV6, before bind); one bound to 0.0.0.0 (AF_INET)
 * serves IPv4 only. */
int sock_create_af(struct stack *st, int family, int type, struct sock **out);
int sock_bind(struct sock *s, union sock_addr_in addr);
int sock_listen(struct sock *s, int backlog);
/* -EAGAIN when no connection is ready. *out belongs to the same stack. */
int sock_accept(struct sock *s, struct sock **out, union sock_addr_out peer);
/* TCP: -EINPROGRESS, then completion shows in sock_events() (EPOLLOUT, or
 * EPOLLERR with sock_error()); again: -EALREADY while pending, -EISCONN after.
 * UDP: sets the default destination, 0. */
int sock_connect(struct sock *s, union sock_addr_in addr);
/* Bytes queued (may be fewer than offered), or -EAGAIN, -EPIPE, -ENOTCONN, ...
 * A zero-length send returns 0. flags: MSG_DONTWAIT is implied; MSG_MORE. */
ssize_t sock_send(struct sock *s, const struct iovec *iov, int iovcnt, int flags, union sock_addr_in to);
/* Bytes read, 0 at end of stream, or -EAGAIN, -ECONNRESET, ...
 * flags: MSG_PEEK, MSG_TRUNC (UDP), MSG_WAITALL is the caller's business. */
ssize_t sock_recv(struct sock *s, const struct iovec *iov, int iovcnt, int flags, union sock_addr_out from);
int sock_shutdown(struct sock *s, int how); /* SHUT_RD, SHUT_WR, SHUT_RDWR */
/* Releases the handle. The connection closes by TCP's rules in the
 * background (FIN, TIME_WAIT), or is reset: unread data, SO_LINGER 0. */
int sock_close(struct sock *s);
/* SOL_SOCKET: SO_REUSEADDR, SO_REUSEPORT, SO_KEEPALIVE, SO_LINGER, SO_RCVBUF,
 * SO_SNDBUF, SO_ERROR, SO_ACCEPTCONN; IPPROTO_IPV6: IPV6_V6ONLY; IPPROTO_TCP: TCP_NODELAY, TCP_CORK,
 * TCP_KEEPIDLE/INTVL/CNT, TCP_INFO, TCP_MAXSEG, TCP_CONGESTION, ...
 * -ENOPROTOOPT for what the stack does not know. */
int sock_setopt(struct sock *s, int level, int name, const void *val, socklen_t len);
int sock_getopt(struct sock *s, int level, int name, void *val, socklen_t *len);
int sock_name(struct sock *s, union sock_addr_out local);
int sock_peer(struct sock *s, union sock_addr_out peer); /* -ENOTCONN */
int sock_family(const struct sock *s);      /* AF_INET / AF_INET6 */
/* Readiness now: EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP, EPOLLERR. */
uint32_t sock_events(const struct sock *s);
/* fn runs (from inside stack_poll or a socket call) whenever the readiness of
 * s may have changed; the shim's epoll, poll and wake-ups build on it. */
typedef void (*sock_notify_fn)(struct sock *s, void *arg);
void sock_set_notify(struct sock *s, sock_notify_fn fn, void *arg);
/* Pending error (positive errno), cleared by reading: SO_ERROR. */
int sock_take_error(struct sock *s);
size_t sock_rx_bytes(const struct sock *s); /* FIONREAD */
size_t sock_tx_bytes(const struct sock *s); /* SIOCOUTQ: not yet acknowledged */
int sock_type(const struct sock *s);        /* SOCK_STREAM / SOCK_DGRAM */
struct stack *sock_stack(const struct sock *s);

/* One connection as the stats tool shows it. */
struct sock_info {
	/* sin_family says which: AF_INET (local, peer) or AF_INET6 (local6, peer6) */
	union {
		struct sockaddr_in local;
		struct sockaddr_in6 local6;
	};
	union {
		struct sockaddr_in peer;
		struct sockaddr_in6 peer6;
	};
	int type;
	int state;          /* TCP_STATE_* (stack/tcp/tcb.h), -1 for UDP */
	uint32_t snd_queue; /* bytes not yet acknowledged */
	uint32_t rcv_queue; /* bytes received, not yet read */
	uint32_t cwnd, ssthresh, srtt_us, rto_us, mss;
	uint32_t retransmits;
};
/* Calls fn once per socket and TCB of the stack (including TIME_WAIT and
 * closing connections that no longer have a handle). */
void stack_foreach_sock(struct stack *st, void (*fn)(const struct sock_info *, void *), void *arg);
const char *stack_tcp_state_name(int state);
/* 1 while the TCP connection local-peer still waits for its sent data and
 * FIN to be acknowledged (FIN-WAIT-1, CLOSING, LAST-ACK), with or without a
 * handle; 0 once they are, or if there is no such connection. SO_LINGER's
 * close() waits on it. */
int stack_tcp_closing(struct stack *st, union sock_addr_in local, union sock_addr_in peer);
/* 1 while any TCP connection of the stack still waits for its sent data and
 * FIN to be acknowledged (as stack_tcp_closing), 0 if none does. */
int stack_tcp_any_closing(struct stack *st);
/* TCP control blocks allocated now (every state, TIME_WAIT included), and
 * in *bytes the memory their fixed part takes. */
uint32_t stack_tcp_tcbs(const struct stack *st, uint64_t *bytes);

/* Handover between processes of a shared device (stack/tcp/handover.c):
 * a message another process's handover function sent (0, or -ENOENT: no
 * listener here, -EINVAL); the closed listeners' queues to the others
 * again (flush), or for the last time, resetting what cannot go (final);
 * 1 while they hold connections. The listening ports (not the closed
 * ones), and a number that moves when they may have changed. */
int stack_handover_input(struct stack *st, const void *msg, size_t len);
void stack_handover_flush(struct stack *st);
void stack_handover_final(struct stack *st);
int stack_handover_pending(struct stack *st);
int stack_tcp_listen_ports(struct stack *st, uint16_t *ports, int max);
uint32_t stack_tcp_listen_gen(const struct stack *st);

#endif
