/* NewReno window management (RFC 5681, RFC 6582). Recovery itself (fast
 * retransmit, partial ACKs) is the TCP engine's; the window in recovery is
 * ssthresh, as RFC 6582 step 3 leaves after deflation. priv[0] counts bytes
 * acked in congestion avoidance. */
#include "cc_priv.h"

static void newreno_init(struct tcp_cc *cc, uint32_t mss, uint64_t now)
{
	(void)now;
	cc->mss = mss;
	cc->cwnd = tcp_cc_iw(mss);
	cc->ssthresh = UINT32_MAX;
	cc->priv[0] = 0;
}

static void newreno_on_ack(struct tcp_cc *cc, uint32_t acked, uint32_t flight, uint32_t rtt_us, uint64_t now)
{
	(void)flight, (void)rtt_us, (void)now;
	if (cc->cwnd < cc->ssthresh) {
		tcp_cc_slow_start(cc, acked);
		return;
	}
	/* RFC 5681 (3.2) with byte counting: one SMSS per cwnd of bytes acked */
	cc->priv[0] += acked;
	if (cc->priv[0] >= cc->cwnd) {
		cc->priv[0] -= cc->cwnd;
		cc->cwnd += cc->mss;
	}
}

static void newreno_on_loss(struct tcp_cc *cc, uint32_t flight, uint64_t now)
{
	(void)now;
	/* RFC 5681 (4): ssthresh = max(FlightSize / 2, 2*SMSS) */
	cc->ssthresh = tcp_cc_floor(cc, flight / 2);
	cc->cwnd = cc->ssthresh;
	cc->priv[0] = 0;
}

static void newreno_on_recovery_end(struct tcp_cc *cc, uint64_t now)
{
	(void)now;
	if (cc->cwnd > cc->ssthresh)
		cc->cwnd = cc->ssthresh;
}

static void newreno_on_rto(struct tcp_cc *cc, uint32_t flight, uint64_t now)
{
	(void)now;
	cc->ssthresh = tcp_cc_floor(cc, flight / 2);
	cc->cwnd = cc->mss; /* the loss window */
	cc->priv[0] = 0;
}

static void newreno_on_idle(struct tcp_cc *cc, uint64_t now)
{
	(void)now;
	tcp_cc_restart(cc);
}

const struct tcp_cc_ops tcp_cc_newreno = {
	.name = "newreno",
	.init = newreno_init,
	.on_ack = newreno_on_ack,
	.on_loss = newreno_on_loss,
	.on_recovery_end = newreno_on_recovery_end,
	.on_rto = newreno_on_rto,
	.on_idle = newreno_on_idle,
};
