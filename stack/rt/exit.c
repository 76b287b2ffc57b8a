/* The runtime's ends: the exit drain and shutdown (rt_shutdown, at exit),
 * a forked child forgetting its parent's device (rt_atfork_child), and the
 * tests' full reset (rt_reset). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rt_impl.h"

/* Data the program wrote before it exited is still the stack's to deliver:
 * the kernel keeps sending after a process ends, so at exit the stack goes on
 * until every connection's sent data and FIN are acknowledged, for at most
 * RT_DRAIN_NS. Connections the program left open are not waited for. */
#define RT_DRAIN_NS (3000ull * 1000 * 1000)
#define RT_LINGER_NS (100ull * 1000 * 1000)

void rt_atfork_child(void)
{
	/* The parent's DPDK threads did not survive the fork: forget its device
	 * and instances without touching them (they are the parent's). */
	if (rt.state == RT_UP)
		for (unsigned i = 0; i < rt.ninst; i++) {
			rt_shm_forget(&rt.inst[i].shm);
			rt_ho_stop(&rt.inst[i]); /* the parent's sockets: theirs to read */
		}
	memset(rt.inst, 0, sizeof(rt.inst));
	rt.ninst = 0;
	if (rt.state != RT_NOT_STARTED && rt.configured) {
		rt.state = rt.state == RT_UP ? RT_FAILED : rt.state;
		if (rt.state == RT_FAILED && !rt.err[0])
			snprintf(rt.err, sizeof(rt.err), "device '%.200s': started in the parent before fork(); "
				 "DPDK cannot start again in the child", rt.cfg.device);
	}
	pthread_mutex_init(&rt.mu, NULL);
	rt.gen++;
	rt_me.inst = NULL; /* rt_me.sched is stale by its gen: replaced on next use */
}

/* An instance after shutdown: nothing arrives, what is sent is dropped. */
static uint16_t dead_rx(struct netif *nif, struct pbuf **pkts, uint16_t n)
{
	(void)nif, (void)pkts, (void)n;
	return 0;
}

static uint16_t dead_tx(struct netif *nif, struct pbuf **pkts, uint16_t n)
{
	(void)nif;
	for (uint16_t i = 0; i < n; i++)
		pbuf_free(pkts[i]);
	return n;
}

static const struct netif_ops dead_ops = { .rx_burst = dead_rx, .tx_burst = dead_tx };

static void inst_drain(struct rt_inst *in)
{
	uint64_t now = rt_now(), end = now + RT_DRAIN_NS, linger;
	struct timespec nap = { 0, 50 * 1000 };

	/* A reset sent lately (close() with unread data aborts, RFC 2525
	 * 2.17) waits for no ACK, but a device that goes away at exit (memif)
	 * loses the frames its peer has not read yet, and a peer that never
	 * sees the reset keeps the connection forever: the device stays up
	 * RT_LINGER_NS after the last one. */
	if (rt_inst_rst_sent(in) != in->rst_seen)
		in->rst_at = now;
	linger = in->rst_at ? in->rst_at + RT_LINGER_NS : 0;
	for (;;) {
		/* first: what other processes handed to this one before its
		 * listeners closed, then a closed listener's queue waits for a
		 * sibling */
		rt_ho_poll(in);
		now = rt_now();
		if ((!stack_tcp_any_closing(in->st) && !stack_handover_pending(in->st) && now >= linger) || now >= end)
			break;
		stack_poll(in->st, now);
		nanosleep(&nap, NULL);
	}
	stack_handover_final(in->st);
	stack_tx_flush(in->st);
}

/* Drain what the lock allows, then let the device go (memif socket file,
 * XDP program); the stack's memory stays, as sockets may still be
 * referenced by callers. */
static void inst_shutdown(struct rt_inst *in)
{
	struct netif *nif = in->nif;
	int locked;

	rt_progress_stop(in);
	locked = rt_inst_lock_bounded(in);
	if (locked && !in->in_pass)
		inst_drain(in);
	stack_tx_flush(in->st);
	rt_ho_stop(in);
	rt_shm_destroy(&in->shm);
	if (nif->ops->close)
		nif->ops->close(nif);
	nif->ops = &dead_ops;
	rt_neigh_stop(&in->neigh);
	if (locked)
		rt_inst_unlock(in);
}

void rt_shutdown(void)
{
	pthread_mutex_lock(&rt.mu);
	if (rt.state != RT_UP || rt.pid != getpid()) {
		pthread_mutex_unlock(&rt.mu);
		return;
	}
	for (unsigned i = 0; i < rt.ninst; i++)
		inst_shutdown(&rt.inst[i]);
	rt.state = RT_SHUT_DOWN;
	rt.gen++; /* rt_stack() answers NULL from now on */
	snprintf(rt.err, sizeof(rt.err), "device '%.200s': the runtime was shut down", rt.cfg.device);
	pthread_mutex_unlock(&rt.mu);
}

void rt_reset(void)
{
	rt_sched_drop();
	pthread_mutex_lock(&rt.mu);
	for (unsigned i = 0; i < rt.ninst && (rt.state == RT_UP || rt.state == RT_SHUT_DOWN); i++) {
		struct rt_inst *in = &rt.inst[i];
		rt_progress_stop(in);
		rt_shm_destroy(&in->shm);
		rt_neigh_stop(&in->neigh);
		rt_ho_stop(in);
		stack_destroy(in->st);
		if (rt.state == RT_UP && in->nif->ops->close)
			in->nif->ops->close(in->nif);
	}
	memset(rt.inst, 0, sizeof(rt.inst));
	rt.ninst = 0;
	rt.state = RT_NOT_STARTED;
	rt.configured = 0;
	rt.err[0] = 0;
	rt.gen++;
	rt_me.inst = NULL;
	pthread_mutex_unlock(&rt.mu);
}
