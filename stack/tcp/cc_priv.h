/* Helpers the congestion-control algorithms share. */
#ifndef DEMI_TCP_CC_PRIV_H
#define DEMI_TCP_CC_PRIV_H

#include "cc.h"

/* RFC 6928: IW = min(10*MSS, max(2*MSS, 14600)). */
static inline uint32_t tcp_cc_iw(uint32_t mss)
{
	uint32_t a = 10 * mss, b = 2 * mss > 14600 ? 2 * mss : 14600;
	return a < b ? a : b;
}

/* RFC 5681 (3.1) slow start with RFC 3465 byte counting, L = 2*SMSS. */
static inline void tcp_cc_slow_start(struct tcp_cc *cc, uint32_t acked)
{
	cc->cwnd += acked < 2 * cc->mss ? acked : 2 * cc->mss;
}

/* ssthresh after a loss: max(x, 2*SMSS). */
static inline uint32_t tcp_cc_floor(const struct tcp_cc *cc, uint64_t x)
{
	return x > 2 * cc->mss ? (uint32_t)x : 2 * cc->mss;
}

/* RFC 5681 (4.1): after idle, cwnd = min(IW, cwnd). */
static inline void tcp_cc_restart(struct tcp_cc *cc)
{
	uint32_t rw = tcp_cc_iw(cc->mss);
	if (cc->cwnd > rw)
		cc->cwnd = rw;
}

#endif
