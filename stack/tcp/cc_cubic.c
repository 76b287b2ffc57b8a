/* CUBIC (RFC 9438) in double-precision maths, windows in segments inside the
 * algorithm and in bytes at the interface. Slow start is RFC 5681's (no
 * HyStart). Fast convergence is on. */
#include <assert.h>
#include <math.h>
#include <string.h>

#include "cc_priv.h"

#define CUBIC_C    0.4
#define CUBIC_BETA 0.7
/* RFC 9438 §4.3: alpha_cubic = 3 (1 - beta) / (1 + beta) */
#define CUBIC_ALPHA (3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA))

struct cubic {
	double w_max;      /* segments: window before the last reduction */
	double k;          /* seconds to reach w_max again */
	double cwnd_seg;   /* the window with its fraction */
	double w_est;      /* Reno-friendly estimate, segments */
	uint64_t t_epoch;  /* ns; 0: no congestion-avoidance epoch yet */
	uint32_t rtt_us;   /* latest RTT sample */
};
static_assert(sizeof(struct cubic) <= sizeof(((struct tcp_cc *)0)->priv), "cubic state fits");

static struct cubic *cubic_of(struct tcp_cc *cc)
{
	return (struct cubic *)cc->priv;
}

/* cc->cwnd is authoritative (the engine may set it); keep the fraction only
 * while the two agree. */
static void cubic_sync(struct tcp_cc *cc)
{
	struct cubic *c = cubic_of(cc);
	if ((uint32_t)(c->cwnd_seg * cc->mss) != cc->cwnd)
		c->cwnd_seg = (double)cc->cwnd / cc->mss;
}

/* W_cubic(t) = C (t - K)^3 + W_max, t in seconds (RFC 9438 §4.2). */
static double cubic_w(const struct cubic *c, double t)
{
	double d = t - c->k;
	return CUBIC_C * d * d * d + c->w_max;
}

static void cubic_init(struct tcp_cc *cc, uint32_t mss, uint64_t now)
{
	(void)now;
	memset(cc->priv, 0, sizeof(cc->priv));
	cc->mss = mss;
	cc->cwnd = tcp_cc_iw(mss);
	cc->ssthresh = UINT32_MAX;
	cubic_of(cc)->cwnd_seg = (double)cc->cwnd / mss;
}

/* A new congestion-avoidance epoch starts with the first ACK after a reduction. */
static void cubic_epoch_start(struct cubic *c, double cwnd, uint64_t now)
{
	c->t_epoch = now ? now : 1;
	c->w_est = cwnd;
	if (cwnd < c->w_max) {
		c->k = cbrt((c->w_max - cwnd) / CUBIC_C);
	} else {
		c->k = 0;
		c->w_max = cwnd;
	}
}

static void cubic_on_ack(struct tcp_cc *cc, uint32_t acked, uint32_t flight, uint32_t rtt_us, uint64_t now)
{
	struct cubic *c = cubic_of(cc);
	double segs = (double)acked / cc->mss, cwnd, target, t;

	(void)flight;
	cubic_sync(cc);
	if (rtt_us)
		c->rtt_us = rtt_us;
	if (cc->cwnd < cc->ssthresh) {
		tcp_cc_slow_start(cc, acked);
		c->cwnd_seg = (double)cc->cwnd / cc->mss;
		return;
	}
	cwnd = c->cwnd_seg;
	if (!c->t_epoch)
		cubic_epoch_start(c, cwnd, now);
	/* §4.2: target = W_cubic(t + RTT), bounded to [cwnd, 1.5 cwnd] */
	t = (double)(now - c->t_epoch) / 1e9 + c->rtt_us / 1e6;
	target = cubic_w(c, t);
	if (target < cwnd)
		target = cwnd;
	if (target > 1.5 * cwnd)
		target = 1.5 * cwnd;
	/* §4.3: the Reno-friendly estimate; alpha becomes 1 once past W_max */
	c->w_est += (c->w_est >= c->w_max ? 1.0 : CUBIC_ALPHA) * segs / cwnd;
	if (cubic_w(c, t - c->rtt_us / 1e6) < c->w_est)
		cwnd = c->w_est > cwnd ? c->w_est : cwnd;        /* Reno-friendly region */
	else
		cwnd += (target - cwnd) / cwnd * segs;          /* concave / convex regions */
	c->cwnd_seg = cwnd;
	cc->cwnd = (uint32_t)(cwnd * cc->mss);
}

/* §4.6 and §4.7: multiplicative decrease with fast convergence. */
static void cubic_reduce(struct tcp_cc *cc, uint32_t flight)
{
	struct cubic *c = cubic_of(cc);
	double cwnd;
	cubic_sync(cc);
	cwnd = c->cwnd_seg;
	c->w_max = cwnd < c->w_max ? cwnd * (1.0 + CUBIC_BETA) / 2.0 : cwnd;
	cc->ssthresh = tcp_cc_floor(cc, (uint64_t)flight * 7 / 10); /* beta_cubic, exactly */
	c->t_epoch = 0;
}

static void cubic_on_loss(struct tcp_cc *cc, uint32_t flight, uint64_t now)
{
	(void)now;
	cubic_reduce(cc, flight);
	cc->cwnd = cc->ssthresh;
	cubic_of(cc)->cwnd_seg = (double)cc->cwnd / cc->mss;
}

static void cubic_on_recovery_end(struct tcp_cc *cc, uint64_t now)
{
	(void)now;
	if (cc->cwnd > cc->ssthresh) {
		cc->cwnd = cc->ssthresh;
		cubic_of(cc)->cwnd_seg = (double)cc->cwnd / cc->mss;
	}
}

static void cubic_on_rto(struct tcp_cc *cc, uint32_t flight, uint64_t now)
{
	(void)now;
	cubic_reduce(cc, flight);
	cc->cwnd = cc->mss;
	cubic_of(cc)->cwnd_seg = 1.0;
}

static void cubic_on_idle(struct tcp_cc *cc, uint64_t now)
{
	(void)now;
	tcp_cc_restart(cc);
	cubic_of(cc)->cwnd_seg = (double)cc->cwnd / cc->mss;
	cubic_of(cc)->t_epoch = 0; /* idle time must not count as growth time */
}

const struct tcp_cc_ops tcp_cc_cubic = {
	.name = "cubic",
	.init = cubic_init,
	.on_ack = cubic_on_ack,
	.on_loss = cubic_on_loss,
	.on_recovery_end = cubic_on_recovery_end,
	.on_rto = cubic_on_rto,
	.on_idle = cubic_on_idle,
};
