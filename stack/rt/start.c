/* Configuration, lazy start of the device and instance 0, the instances a
 * thread is given, and the error a failed start leaves. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demi/log.h"
#include "netif/dpdk.h"
#include "rt_impl.h"

#define RT_SPIN_US_DEFAULT 100

struct rt_global rt = { .mu = PTHREAD_MUTEX_INITIALIZER };
__thread struct rt_thread rt_me;

static const char *const rt_counter_names[RT_COUNTER_MAX] = {
#define RT_C(name, desc) #name,
	RT_COUNTERS(RT_C)
#undef RT_C
};

static void rt_atfork_child_cb(void)
{
	rt_atfork_child();
}

int rt_configure(const struct rt_cfg *cfg)
{
	if (!cfg)
		return -EINVAL;
	pthread_mutex_lock(&rt.mu);
	if (rt.state == RT_UP) {
		pthread_mutex_unlock(&rt.mu);
		return -EBUSY;
	}
	rt.cfg = *cfg;
	rt.cfg_pid = cfg->cfg_pid ? (pid_t)cfg->cfg_pid : getpid();
	if (!rt.cfg.spin_us)
		rt.cfg.spin_us = RT_SPIN_US_DEFAULT;
	rt.configured = 1;
	rt.state = RT_NOT_STARTED;
	rt.err[0] = 0;
	if (!rt.atfork_done) {
		pthread_atfork(NULL, NULL, rt_atfork_child_cb);
		rt.atfork_done = 1;
	}
	pthread_mutex_unlock(&rt.mu);
	return 0;
}

void rt_set_opener(rt_open_fn fn)
{
	rt.opener = fn;
}

void rt_set_shm_dir(const char *dir)
{
	rt.shm_dir = dir;
}

const char *rt_error(void)
{
	return rt.err;
}

int rt_started(void)
{
	return rt.state == RT_UP && rt.pid == getpid();
}

/* The DPDK driver, if it is linked in (it is not in the unit tests). */
extern int dpdk_netif_open(struct netif **out, const struct dpdk_open_cfg *cfg, char *err, size_t errlen)
	__attribute__((weak));

static int rt_open_dpdk(struct netif **out, const struct rt_cfg *cfg, char *err, size_t errlen)
{
	struct dpdk_open_cfg dc = {
		.device = cfg->device,
		.eal_args = cfg->eal_args,
		.name = cfg->name[0] ? cfg->name : "demi",
		.mbufs = cfg->mbufs,
		.mtu = cfg->stack.mtu,
		/* a worker forked by the configured process: its siblings and
		 * successors (a reload's) use the device after it */
		.keep_dev = rt.cfg_pid != getpid(),
	};
	if (!dpdk_netif_open) {
		snprintf(err, errlen, "device '%.200s': this program has no DPDK driver", cfg->device);
		return -ENODEV;
	}
	return dpdk_netif_open(out, &dc, err, errlen);
}

/* The signal a device fd raises when input arrives (O_ASYNC; F_SETSIG or
 * SIGIO), 0 if none. */
static int dev_signal(struct netif *nif)
{
	int fd = nif->ops->wait_fd ? nif->ops->wait_fd(nif) : -1, fl, sig;
	if (fd < 0 || (fl = fcntl(fd, F_GETFL)) < 0 || !(fl & O_ASYNC))
		return 0;
	sig = fcntl(fd, F_GETSIG);
	return sig > 0 ? sig : SIGIO;
}

/* Instance idx over the open device: its stack and its counters file (no
 * counters file is not an error). 0 or -errno from stack_create. */
static int inst_start(struct rt_inst *in, unsigned idx, struct netif *nif)
{
	struct rt_shm_info si;
	int rc;

	memset(in, 0, sizeof(*in));
	in->neigh.fd = in->neigh.ev_fd = -1;
	/* a forked worker shares the device with its siblings: no RST for
	 * their connections (a single process keeps answering with RSTs) */
	if ((nif->caps & NETIF_CAP_SHARED) && rt.cfg_pid != getpid())
		rt.cfg.stack.shared_dev = 1;
	/* a closed listener hands its connections to the others (handover.c) */
	rt.cfg.stack.handover = rt_ho_start(in) ? rt_ho_send : NULL;
	rt.cfg.stack.handover_arg = in;
	if ((rc = stack_create(&in->st, &rt.cfg.stack, nif, rt_now())) != 0) {
		rt_ho_stop(in);
		return rc;
	}
	if (nif->kernel_ifindex) { /* the kernel's neighbours, from the start */
		if ((rc = rt_neigh_start(&in->neigh, nif->kernel_ifindex, rt.gw_from_kernel, rt.cfg.stack.gateway)) != 0)
			demi_log(DEMI_LOG_WARN, "%s: no rtnetlink for the kernel's neighbours: %s", rt.cfg.device,
				 strerror(-rc));
		rt_neigh_poll(&in->neigh, in->st, rt_now());
	}
	in->nif = nif;
	in->idx = idx;
	in->rst_idx = stack_counter_index("TCP_RST_SENT");
	in->cksum_idx = stack_counter_index("DROP_TCP_CKSUM");
	in->rxsegs_idx = stack_counter_index("TCP_RX_SEGS");
	in->dev_sig = dev_signal(nif);
	in->nap_ns = RT_NAP_MIN_NS;
	in->ctr[RT_LINK_UP] = nif->ops->link_up ? (uint64_t)nif->ops->link_up(nif) : 1;
	si = (struct rt_shm_info){
		.program = rt.cfg.name, .device = rt.cfg.device, .mac = nif->mac,
		.mtu = nif->mtu, .addr = rt.cfg.stack.addr.s_addr, .prefix_len = rt.cfg.stack.prefix_len,
		.instance = idx, .extra_names = rt_counter_names, .nextra = RT_COUNTER_MAX,
	};
	rt_shm_create(&in->shm, rt.shm_dir, &si);
	return 0;
}

/* Start the device and instance 0. Called with rt.mu held. */
static void rt_start_locked(void)
{
	struct netif *nif = NULL;
	rt_open_fn open = rt.opener ? rt.opener : rt_open_dpdk;
	int rc;

	if (!rt.configured) {
		snprintf(rt.err, sizeof(rt.err), "the runtime was not configured");
		rt.state = RT_FAILED;
		return;
	}
	if ((rc = open(&nif, &rt.cfg, rt.err, sizeof(rt.err))) != 0) {
		if (!rt.err[0])
			snprintf(rt.err, sizeof(rt.err), "device '%.200s': %s", rt.cfg.device, strerror(-rc));
		rt.state = RT_FAILED;
		return;
	}
	if (nif->kernel_ifindex) {
		/* shared with the kernel: it owns ARP, and its default route
		 * through the interface is the gateway unless one is configured */
		rt.cfg.stack.kernel_neigh = 1;
		if (!rt.cfg.stack.gateway.s_addr) {
			rt.gw_from_kernel = 1;
			(void)rt_neigh_gateway(nif->kernel_ifindex, &rt.cfg.stack.gateway);
		}
	}
	if ((rc = inst_start(&rt.inst[0], 0, nif)) != 0) {
		snprintf(rt.err, sizeof(rt.err), "device '%.200s': the stack did not start: %s", rt.cfg.device,
			 strerror(-rc));
		if (nif->ops->close)
			nif->ops->close(nif);
		rt.state = RT_FAILED;
		return;
	}
	rt.ninst = 1;
	rt.pid = getpid();
	rt.state = RT_UP;
	rt_progress_start(&rt.inst[0]);
	if (!rt.atexit_done) {
		atexit(rt_shutdown);
		rt.atexit_done = 1;
	}
}

struct stack *rt_stack(void)
{
	struct rt_inst *in;
	if (rt_me.gen == rt.gen && rt_me.inst)
		return atomic_load(&rt_me.inst->gone) ? NULL : rt_me.inst->st;
	pthread_mutex_lock(&rt.mu);
	if (rt.state == RT_NOT_STARTED)
		rt_start_locked();
	/* one queue pair for now: every thread shares instance 0 */
	in = rt.state == RT_UP ? &rt.inst[0] : NULL;
	rt_me.gen = rt.gen;
	rt_me.inst = in;
	pthread_mutex_unlock(&rt.mu);
	return in && !atomic_load(&in->gone) ? in->st : NULL;
}
