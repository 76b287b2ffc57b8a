/* Congestion control, selectable per stack: NewReno (RFC 5681, RFC 6582) and
 * CUBIC (RFC 9438). The algorithm sets cwnd and ssthresh; the loss-recovery
 * mechanics (fast retransmit, partial ACKs, RFC 6675 pipe) live in the TCP
 * output/input code, which calls these hooks. Units: bytes, ns, us. */
#ifndef DEMI_TCP_CC_H
#define DEMI_TCP_CC_H

#include <stdint.h>

struct tcp_cc {
	uint32_t cwnd;     /* congestion window, bytes */
	uint32_t ssthresh; /* slow-start threshold, bytes (UINT32_MAX at start) */
	uint32_t mss;      /* sender MSS (SMSS), bytes */
	uint64_t priv[8];  /* the algorithm's own state */
};

struct tcp_cc_ops {
	const char *name; /* "cubic", "newreno": what TCP_CONGESTION reports */
	/* Initial window per RFC 6928: min(10*mss, max(2*mss, 14600)). */
	void (*init)(struct tcp_cc *cc, uint32_t mss, uint64_t now);
	/* An ACK acknowledged `acked` new bytes outside loss recovery; `flight`
	 * was the bytes in flight before it, `rtt_us` the latest sample (0: none). */
	void (*on_ack)(struct tcp_cc *cc, uint32_t acked, uint32_t flight, uint32_t rtt_us, uint64_t now);
	/* Loss detected by duplicate ACKs or SACK: entering fast recovery. */
	void (*on_loss)(struct tcp_cc *cc, uint32_t flight, uint64_t now);
	/* Fast recovery ended (snd_una passed the recovery point). */
	void (*on_recovery_end)(struct tcp_cc *cc, uint64_t now);
	/* Retransmission timeout: ssthresh from flight, cwnd to one segment. */
	void (*on_rto)(struct tcp_cc *cc, uint32_t flight, uint64_t now);
	/* The sender was idle longer than an RTO (RFC 5681 §4.1 restart window). */
	void (*on_idle)(struct tcp_cc *cc, uint64_t now);
};

extern const struct tcp_cc_ops tcp_cc_newreno;
extern const struct tcp_cc_ops tcp_cc_cubic;
/* By name ("cubic", "newreno"); NULL if unknown. */
const struct tcp_cc_ops *tcp_cc_find(const char *name);

#endif
