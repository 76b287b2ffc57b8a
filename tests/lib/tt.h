/* TCP test fixture: a stack (198.18.0.2) on an in-memory link with a fake
 * clock, and the test playing the peer (198.18.0.1) segment by segment; or
 * two stacks talking to each other. Built on the packet fixture (pt.h): its
 * link, stack, clock and leak check, with TCP segments on top. Include as
 * "../lib/tt.h". */
#ifndef DEMI_TESTS_TT_H
#define DEMI_TESTS_TT_H

#include <stdint.h>

#include "pt.h"
#include "sock.h"
#include "tcp/tcb.h"
#include "wire/tcp.h"

#define TT_MS PT_MS
#define TT_US_IP   PT_US_IP   /* 198.18.0.2: the stack */
#define TT_PEER_IP PT_PEER_IP /* 198.18.0.1: the test, or the second stack */
#define TT_LPORT 80
#define TT_RPORT 40000
#define TT_PEER_ISS 1000000u

struct tt_seg {
	uint8_t flags;
	uint32_t seq, ack;
	uint16_t wnd;          /* 0: 65535, unless wnd0 */
	uint8_t wnd0;          /* advertise a zero window */
	uint16_t sport, dport; /* 0: the defaults (peer TT_RPORT -> stack TT_LPORT) */
	struct tcp_opts opt;
	const void *data;
	uint32_t len;
};
#define SEG(f, ...) ((struct tt_seg){ .flags = (f), __VA_ARGS__ })

struct tt {
	/* The packet fixture underneath; its link fields (ml, spool, ppool,
	 * snif, peer, st, now) are also reachable by their own names, as the
	 * common initial sequence of the two union members. */
	union {
		struct pt pt;
		struct {
			PT_LINK_FIELDS
		};
	};
	struct stack *st2;       /* on the peer's port: only with tt_setup_pair */
	struct sock *lsock;      /* listener on TT_LPORT, if made */
	struct sock *sock;       /* the connection under test */
	struct sock *sock2;      /* its other end on st2 */
	uint32_t iss;            /* the stack's ISS, seen in its SYN or SYN-ACK */
	uint8_t rx[4096];        /* payload of the last segment received */
};

int tt_setup(void **state);      /* one stack, the test is the peer */
int tt_setup_pair(void **state); /* two stacks; the second on the peer's port */
int tt_setup_pair_jumbo(void **state); /* the same with MTU 9000 and buffers to match */
int tt_teardown(void **state);   /* fails on a leaked pbuf or TCB */

/* Advance the fake clock by ns, delivering frames and polling until quiet. */
void tt_advance(struct tt *t, uint64_t ns);
/* Send one segment from the peer and let the stack process it. */
void tt_send(struct tt *t, struct tt_seg s);
/* An IPv4 packet from src (through the peer's port) around len bytes of an
 * l4 payload, already complete; then the stack processes it. */
void tt_send_ip(struct tt *t, uint32_t src, uint8_t proto, const uint8_t *l4, uint32_t len);
/* The next TCP segment the stack sent (payload in t->rx); 0 if none. */
int tt_recv(struct tt *t, struct tt_seg *out);
void tt_expect_nothing(struct tt *t);
/* The next segment must have these flags, seq and ack. Returns it. */
struct tt_seg tt_expect(struct tt *t, uint8_t flags, uint32_t seq, uint32_t ack);

/* The connection's TCB (by 4-tuple) or NULL; its state or -1. */
struct tcb *tt_tcb(struct tt *t);
int tt_state(struct tt *t);

/* A listener on TT_LPORT (backlog 16). */
void tt_listen(struct tt *t);
/* SYN (MSS 1460, WS 7, SACK-permitted, TS) in, SYN-ACK out: SYN-RECEIVED. */
void tt_syn_received(struct tt *t);
/* ...and the ACK in, accepted into t->sock: ESTABLISHED. */
void tt_established(struct tt *t);
/* An active open from the stack to the peer: SYN out, SYN-ACK in. */
void tt_connect(struct tt *t);
/* The same for a socket already in t->sock (options set); returns its SYN. */
struct tt_seg tt_connect_sock(struct tt *t);
/* TS options the peer sends now (tsval = clock ms, tsecr = echo). */
struct tcp_opts tt_ts(struct tt *t, uint32_t tsecr);

/* Two-stack transfers: each side sends `total` bytes of a pseudo-random
 * pattern (prime period, so a segment in the wrong place never matches),
 * then shuts down its write side, and checks every byte it reads. */
struct tt_side {
	struct sock *s;
	uint64_t total;          /* bytes to send; the other side sends as many */
	uint64_t sent, rcvd;
	int eof, shut;
	uint8_t seed_tx, seed_rx; /* 0 or 1: which pattern goes which way */
};
/* Send and read what the socket takes without blocking; fails on a wrong byte. */
void tt_side_pump(struct tt_side *d);
/* Both sides have sent, read all the other's bytes and seen its FIN. */
int tt_sides_done(const struct tt_side *a, const struct tt_side *b);
/* Advance the pair by a step, or straight to the next timer when the wire is idle. */
void tt_pair_step(struct tt *t);
/* Pump both sides and step until tt_sides_done; fails if the fake clock
 * passes limit_ns from the start (a stall). */
void tt_sides_run(struct tt *t, struct tt_side *a, struct tt_side *b, uint64_t limit_ns);

#endif
