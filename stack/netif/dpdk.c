/* The DPDK netif: one port, one queue pair, zero copy.
 *
 * Every mbuf carries a struct pbuf in its private area (priv_size of the
 * pool), so a received frame reaches the stack as the pbuf of its mbuf and a
 * frame the stack sends is the mbuf itself: pbuf->data/len map onto the
 * mbuf's data_off/data_len, and the pbuf pool's alloc/free are
 * rte_pktmbuf_alloc/free.
 *
 * Start-up (once per process, dpdk_netif_open): the device's entry in the
 * table of kinds (dev.h) prepares the host (a memif socket file nobody
 * serves is reclaimed; an XDP program left on the interface is detached
 * here, with libbpf), EAL starts with the arguments dpdk_args.c builds, and
 * the port is configured with the checksum offloads it offers and rx
 * interrupts if the driver has them. DPDK's own log lines during start are
 * captured, so a failure comes back as one line naming the device and the
 * reason; every other line goes to the stack's log (demi/log.h).
 *
 * What differs per kind of device is a trait of its entry, never a test
 * of the kind here: to add a kind, see README.md in this folder. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_mempool.h>

#include "demi/log.h"
#include "dpdk.h"
#include "xdp/share.h"

_Static_assert(RTE_PKTMBUF_HEADROOM == PBUF_HEADROOM, "mbuf headroom must match the pbuf's");
_Static_assert(RTE_MBUF_DEFAULT_BUF_SIZE == DPDK_ROOM_DEFAULT, "the default data room");

#define DPDK_RXD 1024
#define DPDK_TXD 1024
#define DPDK_POOL_CACHE 256
#define DPDK_PRIV_SIZE RTE_ALIGN(sizeof(struct pbuf), RTE_MBUF_PRIV_ALIGN)

struct dpdk_netif {
	struct netif nif;
	struct pbuf_pool pool;
	struct rte_mempool *mp;
	uint16_t port;
	int wait_fd;         /* rx interrupt fd of queue 0, or -1 */
	int wait_is_counter; /* an eventfd that must be read to re-arm */
	int started;
	uint16_t mtu;        /* IP MTU the port is configured for */
	struct dpdk_spec spec;
	/* shared (xdp): our program, shared with the other processes on the interface */
	struct xdp_share share;
	int steer_warned;
	struct port_hold *holds[256]; /* kernel sockets holding the ports of the stack's active opens */
	unsigned ifindex;    /* tap, af_xdp, af_packet: the interface's index at open, 0: none */
};

static struct dpdk_netif dn = { .share = XDP_SHARE_INIT };
static int eal_state;            /* 0 never started, 1 up, -1 failed */

static inline struct pbuf *mb_pbuf(struct rte_mbuf *m)
{
	return (struct pbuf *)rte_mbuf_to_priv(m);
}

static inline struct rte_mbuf *pbuf_mb(struct pbuf *p)
{
	return (struct rte_mbuf *)((char *)p - sizeof(struct rte_mbuf));
}

static inline void pbuf_from_mb(struct pbuf *p, struct rte_mbuf *m, uint32_t flags)
{
	p->head = m->buf_addr;
	p->size = m->buf_len;
	p->data = (uint8_t *)m->buf_addr + m->data_off;
	p->len = m->data_len;
	p->flags = flags;
	p->l2_len = p->l3_len = p->l4_len = 0;
	p->pool = &dn.pool;
	p->next = NULL;
	p->user[0] = p->user[1] = 0;
}

static struct pbuf *dpdk_pool_alloc(struct pbuf_pool *pool)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dn.mp);
	struct pbuf *p;
	if (!m)
		return NULL;
	p = mb_pbuf(m);
	pbuf_from_mb(p, m, 0);
	pool->in_use++;
	return p;
}

static void dpdk_pool_free(struct pbuf_pool *pool, struct pbuf *p)
{
	pool->in_use--;
	rte_pktmbuf_free(pbuf_mb(p));
}

static uint32_t rx_flags(uint64_t ol)
{
	uint32_t f = 0;
	if ((ol & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
		f |= PBUF_F_RX_IP_CKSUM_GOOD;
	else if ((ol & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_BAD)
		f |= PBUF_F_RX_IP_CKSUM_BAD;
	if ((ol & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
		f |= PBUF_F_RX_L4_CKSUM_GOOD;
	else if ((ol & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_BAD)
		f |= PBUF_F_RX_L4_CKSUM_BAD;
	return f;
}

static uint16_t dpdk_rx_burst(struct netif *nif, struct pbuf **pkts, uint16_t n)
{
	struct dpdk_netif *d = (struct dpdk_netif *)nif;
	struct rte_mbuf *mb[64];
	uint16_t got, k = 0;
	int rxck = !!(nif->caps & NETIF_CAP_RX_CKSUM);
	if (n > 64)
		n = 64;
	got = rte_eth_rx_burst(d->port, 0, mb, n);
	for (uint16_t i = 0; i < got; i++) {
		struct rte_mbuf *m = mb[i];
		if (unlikely(m->nb_segs != 1)) { /* never with MTU 1500 and 2 KiB buffers */
			rte_pktmbuf_free(m);
			continue;
		}
		pbuf_from_mb(mb_pbuf(m), m, rxck ? rx_flags(m->ol_flags) : 0);
		pkts[k++] = mb_pbuf(m);
	}
	d->pool.in_use += k;
	return k;
}

static uint16_t dpdk_tx_burst(struct netif *nif, struct pbuf **pkts, uint16_t n)
{
	struct dpdk_netif *d = (struct dpdk_netif *)nif;
	struct rte_mbuf *mb[64];
	uint16_t sent;
	if (n > 64)
		n = 64;
	for (uint16_t i = 0; i < n; i++) {
		struct pbuf *p = pkts[i];
		struct rte_mbuf *m = pbuf_mb(p);
		uint64_t ol = 0;
		m->data_off = (uint16_t)(p->data - (uint8_t *)m->buf_addr);
		m->data_len = (uint16_t)p->len;
		m->pkt_len = p->len;
		if (p->flags & (PBUF_F_TX_IP_CKSUM | PBUF_F_TX_TCP_CKSUM | PBUF_F_TX_UDP_CKSUM)) {
			ol = RTE_MBUF_F_TX_IPV4;
			if (p->flags & PBUF_F_TX_IP_CKSUM)
				ol |= RTE_MBUF_F_TX_IP_CKSUM;
			if (p->flags & PBUF_F_TX_TCP_CKSUM)
				ol |= RTE_MBUF_F_TX_TCP_CKSUM;
			else if (p->flags & PBUF_F_TX_UDP_CKSUM)
				ol |= RTE_MBUF_F_TX_UDP_CKSUM;
			m->l2_len = p->l2_len;
			m->l3_len = p->l3_len;
			m->l4_len = p->l4_len;
		}
		m->ol_flags = ol;
		mb[i] = m;
	}
	sent = rte_eth_tx_burst(d->port, 0, mb, n);
	d->pool.in_use -= sent;
	return sent;
}

/* net_tap raises a signal (F_SETSIG) on its queue fd for every frame (its rx
 * burst looks at nothing until one came). Sent to the process, it lands in
 * any of the program's threads and cuts short the calls Linux never
 * restarts (sleep, nanosleep: wrk's main thread ended a 4 s run after
 * 0.1 s). EAL's interrupt thread, which sleeps in epoll_wait and retries on
 * EINTR, is made the fd's owner instead. */
/* When the queue of a real-time F_SETSIG signal overflows (the limit is per
 * user, RLIMIT_SIGPENDING), the kernel sends SIGIO instead, whose default
 * action ends the process ("I/O possible": iperf3 -R at 2 Gbit/s over the
 * tap). Unless the program handles SIGIO itself, it gets the driver's own
 * handler: an overflow is then one more "frames came" note. */
static void dpdk_sig_overflow(int fd)
{
	struct sigaction drv, io;
	int sig = fcntl(fd, F_GETSIG);

	if (sig <= 0 || sig == SIGIO || sigaction(sig, NULL, &drv) != 0 || sigaction(SIGIO, NULL, &io) != 0)
		return;
	if (io.sa_handler != SIG_DFL || drv.sa_handler == SIG_DFL || drv.sa_handler == SIG_IGN)
		return;
	(void)sigaction(SIGIO, &drv, NULL);
}

static void dpdk_sig_to_intr_thread(int fd)
{
	char path[64], comm[32];
	struct dirent *e;
	DIR *dir;
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || !(fl & O_ASYNC) || !(dir = opendir("/proc/self/task")))
		return;
	while ((e = readdir(dir))) {
		FILE *f;
		snprintf(path, sizeof(path), "/proc/self/task/%.20s/comm", e->d_name);
		if (!(f = fopen(path, "re")))
			continue;
		if (fgets(comm, sizeof(comm), f) && strncmp(comm, "eal-intr-thread", 15) == 0) {
			struct f_owner_ex o = { .type = F_OWNER_TID, .pid = atoi(e->d_name) };
			(void)fcntl(fd, F_SETOWN_EX, &o);
		}
		fclose(f);
	}
	closedir(dir);
	dpdk_sig_overflow(fd);
}

static int dpdk_wait_fd(struct netif *nif)
{
	return ((struct dpdk_netif *)nif)->wait_fd;
}

static int dpdk_intr_arm(struct netif *nif, int on)
{
	struct dpdk_netif *d = (struct dpdk_netif *)nif;
	uint64_t v;
	int rc;
	if (d->wait_fd < 0)
		return -ENOTSUP;
	if (!on && d->wait_is_counter) /* drain, or poll() would see it ready forever */
		while (syscall(SYS_read, d->wait_fd, &v, sizeof(v)) == (long)sizeof(v)) /* not the shim's read */
			;
	rc = on ? rte_eth_dev_rx_intr_enable(d->port, 0) : rte_eth_dev_rx_intr_disable(d->port, 0);
	/* net_tap has no switch: its fd is the queue itself, readable while
	 * frames wait, which is what a sleeper needs */
	return rc == -ENOTSUP ? 0 : rc;
}

/* ------------------------------------------------ shared device (xdp) */

/* Keys as the program reads them: network byte order. */
struct steer_flow_key {
	uint32_t laddr, raddr;
	uint16_t lport, rport;
};

/* The kernel has the stack's address on a shared device: the port of each
 * connection the stack opens is held by a kernel socket bound to it from
 * the moment its flow is steered until the stack frees the connection
 * (TIME_WAIT included), so the kernel neither picks it for its own
 * connections nor binds it for another program. SO_REUSEADDR lets it sit
 * beside the shim's own reservation of the port (the connection's kernel
 * socket, which picked it); system calls directly, not the shim's. */
struct port_hold {
	struct steer_flow_key k;
	int fd;
	struct port_hold *next;
};

static struct port_hold **hold_slot(struct dpdk_netif *d, const struct steer_flow_key *k)
{
	struct port_hold **pp = &d->holds[(k->lport ^ k->rport ^ k->raddr) & 255];
	while (*pp && memcmp(&(*pp)->k, k, sizeof(*k)))
		pp = &(*pp)->next;
	return pp;
}

static void port_hold(struct dpdk_netif *d, const struct steer_flow_key *k, int on)
{
	struct port_hold **pp = hold_slot(d, k), *h = *pp;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = k->lport, .sin_addr.s_addr = k->laddr };
	int one = 1, fd;

	if (!on) {
		if (h) {
			*pp = h->next;
			syscall(SYS_close, h->fd);
			free(h);
		}
		return;
	}
	if (h || !(h = malloc(sizeof(*h))))
		return;
	fd = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || syscall(SYS_setsockopt, fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    syscall(SYS_bind, fd, &sa, sizeof(sa)) != 0) {
		if (!d->steer_warned)
			demi_log(DEMI_LOG_WARN, "%s: port %u not held on the kernel: %s", d->nif.name, ntohs(k->lport),
				 strerror(errno));
		d->steer_warned = 1;
		if (fd >= 0)
			syscall(SYS_close, fd);
		free(h);
		return;
	}
	h->k = *k;
	h->fd = fd;
	h->next = NULL;
	*pp = h;
}

static void port_holds_close(struct dpdk_netif *d)
{
	for (int i = 0; i < 256; i++)
		while (d->holds[i]) {
			struct port_hold *h = d->holds[i];
			d->holds[i] = h->next;
			syscall(SYS_close, h->fd);
			free(h);
		}
}

static void dpdk_steer(struct netif *nif, uint8_t proto, uint32_t laddr, uint16_t lport, uint32_t raddr,
		       uint16_t rport, int on)
{
	struct dpdk_netif *d = (struct dpdk_netif *)nif;
	struct steer_flow_key fk = { htonl(laddr), htonl(raddr), htons(lport), htons(rport) };
	int rc;

	if (d->share.queue < 0)
		return;
	if (raddr && proto == IPPROTO_TCP)
		port_hold(d, &fk, on);
	rc = xdp_share_steer(&d->share, proto, laddr, lport, raddr, rport, on);
	if (rc != 0 && !d->steer_warned) {
		demi_log(DEMI_LOG_WARN, "%s: cannot update the XDP program's map: %s", d->nif.name, strerror(-rc));
		d->steer_warned = 1;
	}
}

static int dpdk_link_up(struct netif *nif)
{
	struct rte_eth_link l;
	if (rte_eth_link_get_nowait(((struct dpdk_netif *)nif)->port, &l) != 0)
		return 0;
	return l.link_status == RTE_ETH_LINK_UP;
}

/* The interface was deleted: its name is unknown (ENODEV, not a lack of
 * fds), or names another interface now. */
static int dpdk_gone(struct netif *nif)
{
	struct dpdk_netif *d = (struct dpdk_netif *)nif;
	unsigned idx;
	if (!d->ifindex)
		return 0;
	errno = 0;
	idx = if_nametoindex(d->spec.dev.iface);
	return idx ? idx != d->ifindex : errno == ENODEV;
}

static void dpdk_close(struct netif *nif)
{
	struct dpdk_netif *d = (struct dpdk_netif *)nif;
	if (!d->started)
		return;
	d->started = 0;
	rte_eth_dev_stop(d->port);
	/* af_xdp's detach fails on our bpf_link (and without privilege) and
	 * says so at error level: the last link's close detaches instead */
	if (d->share.link_fd >= 0)
		rte_log_set_level_pattern("pmd.net.af_xdp*", RTE_LOG_CRIT);
	rte_eth_dev_close(d->port); /* memif unlinks its socket, af_xdp detaches its program */
	xdp_share_close(&d->share);
	port_holds_close(d);
}

static const struct netif_ops dpdk_ops = {
	.rx_burst = dpdk_rx_burst,
	.tx_burst = dpdk_tx_burst,
	.wait_fd = dpdk_wait_fd,
	.intr_arm = dpdk_intr_arm,
	.link_up = dpdk_link_up,
	.gone = dpdk_gone,
	.close = dpdk_close,
	.steer = dpdk_steer,
};

/* ------------------------------------------------------------ start-up */

/* DPDK's log once the port runs goes to the stack's log (demi/log.h), at
 * the level DPDK gave each line: not to stderr or syslog, the
 * application's. Each write is one message, fflushed by rte_vlog. */
static ssize_t dpdk_log_write(void *cookie, const char *buf, size_t n)
{
	uint32_t rl = (uint32_t)rte_log_cur_msg_loglevel();
	enum demi_log_level lv = rl <= RTE_LOG_ERR ? DEMI_LOG_ERROR : rl == RTE_LOG_WARNING ? DEMI_LOG_WARN :
				 rl < RTE_LOG_DEBUG ? DEMI_LOG_INFO : DEMI_LOG_DEBUG;
	(void)cookie;
	for (size_t i = 0, j; i < n; i = j + 1) {
		for (j = i; j < n && buf[j] != '\n'; j++)
			;
		if (j > i)
			demi_log(lv, "%.*s", (int)(j - i), buf + i);
	}
	return (ssize_t)n;
}

static FILE *dpdk_log_stream(void)
{
	static FILE *f;
	if (!f)
		f = fopencookie(NULL, "w", (cookie_io_functions_t){ .write = dpdk_log_write });
	return f ? f : stderr;
}

/* DPDK's log while starting, so the reason for a failure can be returned. */
static char *log_buf;
static size_t log_len;
static FILE *log_mem;

static void log_capture_begin(void)
{
	log_mem = open_memstream(&log_buf, &log_len);
	if (log_mem)
		rte_openlog_stream(log_mem);
}

/* The last line DPDK logged, stripped; "" if none. */
static void log_capture_end(char *last, size_t n)
{
	last[0] = 0;
	rte_openlog_stream(dpdk_log_stream());
	if (!log_mem)
		return;
	fclose(log_mem);
	log_mem = NULL;
	if (log_buf) {
		/* the driver's own first words if it said something (EAL's and
		 * the bus's lines after it only repeat that it failed), else
		 * EAL's last line */
		const char *pick = NULL, *eal = NULL;
		for (char *line = strtok(log_buf, "\n"); line; line = strtok(NULL, "\n")) {
			if (!strncmp(line, "EAL: ", 5) || !strncmp(line, "vdev_probe(): ", 14))
				eal = line;
			else if (!pick)
				pick = line;
			demi_log(DEMI_LOG_DEBUG, "dpdk: %s", line);
		}
		if (!pick)
			pick = eal;
		snprintf(last, n, "%s", pick ? pick : "");
		while (*last && (last[strlen(last) - 1] == ' ' || last[strlen(last) - 1] == '.'))
			last[strlen(last) - 1] = 0;
	}
	free(log_buf);
	log_buf = NULL;
}

/* Why dpdk_netif_open failed after EAL began: the phrase, and what to add
 * after DPDK's own last line. */
struct open_fail {
	char why[128];
	char extra[128];
};

static int open_err(char *err, size_t errlen, const char *dev, const char *why, const char *detail)
{
	if (detail && *detail)
		snprintf(err, errlen, "device '%.200s': %s (%s)", dev, why, detail);
	else
		snprintf(err, errlen, "device '%.200s': %s", dev, why);
	return -ENODEV;
}

/* An XDP program left by an af_xdp process that exited without closing
 * its port would keep the queue: detach it if it is libxdp's default
 * program (or the steering program of an older libdemi, attached by
 * netlink). The xdp: kind's program is held by bpf_links, which a netlink
 * detach cannot remove: the kernel detaches it with the last link. */
static void xdp_reclaim(const struct dev *dv)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	unsigned idx = if_nametoindex(dv->iface);
	struct { __u32 id; __u32 flags; } progs[2];
	if (!idx || bpf_xdp_query((int)idx, 0, &q) != 0)
		return;
	progs[0].id = q.drv_prog_id;
	progs[0].flags = XDP_FLAGS_DRV_MODE;
	progs[1].id = q.skb_prog_id;
	progs[1].flags = XDP_FLAGS_SKB_MODE;
	for (int i = 0; i < 2; i++) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		int fd;
		if (!progs[i].id || (fd = bpf_prog_get_fd_by_id(progs[i].id)) < 0)
			continue;
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && (!strcmp(info.name, "xsk_def_prog") || !strcmp(info.name, "demi_steer")))
			bpf_xdp_detach((int)idx, progs[i].flags, NULL);
		close(fd);
	}
}

/* After the reclaim: an XDP program on the interface that is not our
 * shared one (xdp/share.c) is another's, which the driver's attach would
 * refuse with a bare EBUSY. Named here, with its id (a libxdp dispatcher
 * is named as such: it runs programs libxdp attached, which the driver
 * cannot join). */
static int xdp_foreign(const struct dev *dv, char *why, size_t n)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	unsigned idx = if_nametoindex(dv->iface);
	__u32 ids[3];

	if (!idx || bpf_xdp_query((int)idx, 0, &q) != 0)
		return 0; /* the driver says what is wrong */
	ids[0] = q.drv_prog_id;
	ids[1] = q.skb_prog_id;
	ids[2] = q.hw_prog_id;
	for (int i = 0; i < 3; i++) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		int fd, ours = 0;
		if (!ids[i])
			continue;
		memset(&info, 0, sizeof(info));
		if ((fd = bpf_prog_get_fd_by_id(ids[i])) >= 0) {
			(void)bpf_obj_get_info_by_fd(fd, &info, &len);
			ours = xdp_share_is_ours(fd);
			close(fd);
		}
		if (ours)
			return 0;
		if (!strcmp(info.name, "xsk_def_prog"))
			snprintf(why, n, "%s is held by an af_xdp device (libxdp's program xsk_def_prog, id %u)",
				 dv->iface, ids[i]);
		else if (!strncmp(info.name, "xdp_dispatcher", 14))
			snprintf(why, n, "%s has a libxdp dispatcher attached (id %u), which this device cannot join",
				 dv->iface, ids[i]);
		else
			snprintf(why, n, "%s has another XDP program attached: %s (id %u)", dv->iface,
				 info.name[0] ? info.name : "unnamed", ids[i]);
		return -EBUSY;
	}
	return 0;
}

/* For a kind that takes the whole queue (af_xdp): libxdp in the driver
 * would adopt the shared program of xdp: processes (it has the name libxdp
 * looks for) and receive only their steered flows. Refused, named. */
static int xdp_shared_here(const struct dev *dv, char *why, size_t n)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	unsigned idx = if_nametoindex(dv->iface);
	__u32 id;
	int fd, ours;

	if (!idx || bpf_xdp_query((int)idx, 0, &q) != 0)
		return 0;
	id = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id;
	if (!id || (fd = bpf_prog_get_fd_by_id(id)) < 0)
		return 0;
	ours = xdp_share_is_ours(fd);
	close(fd);
	if (!ours)
		return 0;
	snprintf(why, n, "%s is shared with the kernel by xdp:%s processes (libdemi's program, id %u): use xdp:%s",
		 dv->iface, dv->iface, id, dv->iface);
	return -EBUSY;
}

/* libbpf's and libxdp's chatter (no bpffs, skipped ELF sections) at debug
 * level, without its newline. */
static int bpf_vlog(const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	if (!demi_log_on(DEMI_LOG_DEBUG))
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = 0;
	demi_log(DEMI_LOG_DEBUG, "%s", line);
	return (int)n;
}

static int bpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	return bpf_vlog(fmt, ap);
}

static int xdp_log(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	return bpf_vlog(fmt, ap);
}

/* The CPUs this process may run on, as "0,1,3". */
static void cpus_list(const cpu_set_t *set, char *out, size_t n)
{
	size_t u = 0;
	out[0] = 0;
	for (int c = 0; c < CPU_SETSIZE && u + 8 < n; c++)
		if (CPU_ISSET(c, set))
			u += (size_t)snprintf(out + u, n - u, "%s%d", u ? "," : "", c);
	if (!u)
		snprintf(out, n, "0");
}

/* The EAL command line for the device, and the host prepared for it:
 * what an earlier run left reclaimed, a peer waited for. Nothing to undo. */
static int open_spec(struct dpdk_spec *sp, const struct dpdk_open_cfg *cfg, char *err, size_t errlen)
{
	struct dpdk_env env = { .prog = cfg->name };
	uint32_t room = dpdk_mbuf_room(cfg->mtu, 256); /* the most any driver needs */
	char cpus[256], why[256];
	cpu_set_t aff;
	int rc;

	if (sched_getaffinity(0, sizeof(aff), &aff) == 0)
		cpus_list(&aff, cpus, sizeof(cpus));
	else
		snprintf(cpus, sizeof(cpus), "0");
	env.cpus = cpus;
	env.mem_mb = dpdk_mem_mb(dpdk_pool_mbufs(cfg->mbufs, room), room);
	env.hugepages = dpdk_hugepages_free("/proc/meminfo", "/proc/mounts") >= (uint64_t)env.mem_mb << 20;
	if ((rc = dpdk_spec_build(sp, cfg->device, cfg->eal_args, &env, err, errlen)) != 0)
		return rc;
	if (sp->dev.kind->prepare && (rc = sp->dev.kind->prepare(&sp->dev, why, sizeof(why))) != 0)
		return open_err(err, errlen, cfg->device, why, NULL);
	if (sp->dev.t.xdp_prog) {
		libbpf_set_print(bpf_log);
		libxdp_set_print(xdp_log);
		xdp_reclaim(&sp->dev); /* ours is held by links: the netlink detach leaves it */
		if (!sp->dev.t.shared && (rc = xdp_shared_here(&sp->dev, why, sizeof(why))) != 0)
			return open_err(err, errlen, cfg->device, why, NULL);
		if (sp->dev.t.shared && (rc = xdp_foreign(&sp->dev, why, sizeof(why))) != 0)
			return open_err(err, errlen, cfg->device, why, NULL);
	}
	if (sp->dev.t.shared) { /* the program joined or loaded, a queue taken: the driver's queue */
		if ((rc = xdp_share_open(&dn.share, sp->dev.iface, sp->dev.queue, why, sizeof(why))) != 0)
			return open_err(err, errlen, cfg->device, why, NULL);
		env.xdp_queue = dn.share.queue;
		if ((rc = dpdk_spec_build(sp, cfg->device, cfg->eal_args, &env, err, errlen)) != 0) {
			xdp_share_close(&dn.share);
			return rc;
		}
	}
	return 0;
}

/* EAL itself (once per process); the vdev is probed here. */
static int eal_start(const struct dpdk_spec *sp, struct open_fail *f)
{
	char *argv[DPDK_ARGV_MAX];
	cpu_set_t aff;
	int rc, saved_aff = sched_getaffinity(0, sizeof(aff), &aff) == 0;

	memcpy(argv, sp->argv, sizeof(argv)); /* EAL may permute its argv */
	rc = rte_eal_init(sp->argc, argv);
	optind = 0; /* EAL leaves glibc's getopt state half reset */
	if (saved_aff) /* EAL pins the calling thread: give the application its CPUs back */
		sched_setaffinity(0, sizeof(aff), &aff);
	eal_state = rc < 0 ? -1 : 1;
	if (rc < 0) {
		snprintf(f->why, sizeof(f->why), "EAL start failed: %s", rte_strerror(rte_errno));
		return -ENODEV;
	}
	return 0;
}

static int port_find(const struct dpdk_spec *sp, uint16_t *port)
{
	uint16_t p;
	if (sp->dev.kind->vdev) {
		char name[32];
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(sp->devarg, ","), sp->devarg);
		return rte_eth_dev_get_port_by_name(name, port) == 0 ? 0 : -ENODEV;
	}
	RTE_ETH_FOREACH_DEV(p) {
		*port = p;
		return 0;
	}
	return -ENODEV;
}

/* Configure the port with the offloads it has; rx interrupts if asked. */
static int port_configure(struct dpdk_netif *d, int intr, uint32_t *caps)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	struct rte_eth_txconf txc;
	uint16_t nrx = DPDK_RXD, ntx = DPDK_TXD;
	uint64_t rxo = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
	int rc;

	if ((rc = rte_eth_dev_info_get(d->port, &info)) != 0)
		return rc;
	memset(&conf, 0, sizeof(conf));
	*caps = 0;
	if ((info.rx_offload_capa & rxo) == rxo) {
		conf.rxmode.offloads = rxo;
		*caps |= NETIF_CAP_RX_CKSUM;
	}
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) {
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
		*caps |= NETIF_CAP_TX_CKSUM_IPV4;
	}
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_CKSUM) {
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
		*caps |= NETIF_CAP_TX_CKSUM_TCP;
	}
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) {
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
		*caps |= NETIF_CAP_TX_CKSUM_UDP;
	}
	conf.intr_conf.rxq = intr ? 1 : 0;
	conf.rxmode.mtu = d->mtu;
	if ((rc = rte_eth_dev_configure(d->port, 1, 1, &conf)) != 0)
		return rc;
	/* a tap's kernel end takes the MTU from here; drivers without the
	 * operation (memif) keep the rxmode.mtu given above */
	if (d->mtu != 1500 && (rc = rte_eth_dev_set_mtu(d->port, d->mtu)) != 0 && rc != -ENOTSUP)
		return rc;
	if ((rc = rte_eth_dev_adjust_nb_rx_tx_desc(d->port, &nrx, &ntx)) != 0)
		return rc;
	if ((rc = rte_eth_rx_queue_setup(d->port, 0, nrx, rte_eth_dev_socket_id(d->port), NULL, d->mp)) != 0)
		return rc;
	txc = info.default_txconf;
	txc.offloads = conf.txmode.offloads;
	return rte_eth_tx_queue_setup(d->port, 0, ntx, rte_eth_dev_socket_id(d->port), &txc);
}

/* Start the port; with rx interrupts first where the driver has them
 * (tap: the queue fd itself), without if it refuses. Not tried elsewhere:
 * a failed first attempt leaves af_xdp's socket behind, and memif (which
 * gives no fd) then panics EAL's interrupt thread when its peer leaves. */
static int port_start(struct dpdk_netif *d, uint32_t *caps, struct open_fail *f)
{
	const struct dev_traits *t = &d->spec.dev.t;
	int rc = -ENOTSUP;
	for (int intr = t->try_intr; intr >= 0; intr--) {
		if ((rc = port_configure(d, intr, caps)) != 0)
			continue;
		/* a memif client's start fails until the server accepts: retry a while */
		for (int i = 0; i < (t->start_tries > 1 ? t->start_tries : 1); i++) {
			if ((rc = rte_eth_dev_start(d->port)) == 0)
				break;
			if (t->start_tries > 1)
				usleep(100 * 1000);
		}
		if (rc != 0)
			continue;
		d->wait_fd = intr ? rte_eth_dev_rx_intr_ctl_q_get_fd(d->port, 0) : -1;
		if (intr && d->wait_fd < 0) { /* configured, but no fd to sleep on */
			rte_eth_dev_stop(d->port);
			continue;
		}
		return 0;
	}
	snprintf(f->why, sizeof(f->why), "the port did not start");
	snprintf(f->extra, sizeof(f->extra), "%s", rte_strerror(-rc));
	return rc;
}

/* af_xdp and af_packet give no rx interrupt, but their socket is readable
 * while its rx ring holds frames: the driver's socket (it keeps the fd to
 * itself), found among the open fds: the one of that family bound to the
 * interface, or -1. */
static int ring_fd_find(int family, const char *iface)
{
	unsigned idx = if_nametoindex(iface);
	char path[32];
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *e;
	int found = -1;

	if (!dir)
		return -1;
	while (found < 0 && (e = readdir(dir))) {
		int fd = atoi(e->d_name), dom = 0;
		socklen_t l = sizeof(dom);
		struct stat st;
		if (e->d_name[0] < '0' || e->d_name[0] > '9' || fd == dirfd(dir))
			continue;
		snprintf(path, sizeof(path), "%d", fd);
		if (fstatat(dirfd(dir), path, &st, 0) != 0 || !S_ISSOCK(st.st_mode))
			continue;
		/* the kernel's answers, not an interposed call's */
		if (syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_DOMAIN, &dom, &l) != 0 || dom != family)
			continue;
		if (family == AF_PACKET) {
			struct sockaddr_ll sll;
			socklen_t sl = sizeof(sll);
			if (syscall(SYS_getsockname, fd, &sll, &sl) != 0 || (unsigned)sll.sll_ifindex != idx)
				continue;
		}
		found = fd;
	}
	closedir(dir);
	return found;
}

static int fd_is_eventfd(int fd)
{
	char path[64], target[64];
	ssize_t n;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return 0;
	target[n] = 0;
	return strstr(target, "eventfd") != NULL;
}

/* The packet pool. DPDK 22.11's af_xdp driver gives the kernel the pool as
 * one UMEM that starts at the page of the pool's first memory chunk and is
 * populated_size x object size long (xdp_umem_configure). A default pool
 * keeps each object inside one page (for DMA), so on 4 KiB pages a 2.5 KiB
 * object takes a whole page: the pool spans 8192 x 4 KiB while the UMEM
 * covers 8192 x 2.5 KiB, and every mbuf beyond the first ~60% lies outside
 * it. The kernel rejects such tx descriptors (XDP_STATISTICS
 * tx_invalid_descs) and fill addresses: sends stall and the port goes dead.
 * A single-threaded program hid it (lcore 0's mempool cache recycles a few
 * hundred low mbufs); threads that are not EAL lcores have no cache and
 * cycle the whole pool. For af_xdp the objects are therefore packed
 * (RTE_MEMPOOL_F_NO_IOVA_CONTIG: nothing DMAs to the pool's IOVAs, the
 * kernel maps or copies the UMEM itself); the rest is what
 * rte_pktmbuf_pool_create does, which other devices keep using. */
static struct rte_mempool *pool_create(uint32_t n, uint32_t room, int packed)
{
	struct rte_pktmbuf_pool_private priv = {
		.mbuf_data_room_size = (uint16_t)room,
		.mbuf_priv_size = DPDK_PRIV_SIZE,
	};
	unsigned elt = (unsigned)(sizeof(struct rte_mbuf) + DPDK_PRIV_SIZE + room);
	struct rte_mempool *mp;
	int rc;

	if (!packed)
		return rte_pktmbuf_pool_create("demi_pool", n, DPDK_POOL_CACHE, DPDK_PRIV_SIZE, (uint16_t)room,
					       (int)rte_socket_id());
	mp = rte_mempool_create_empty("demi_pool", n, elt, DPDK_POOL_CACHE, sizeof(priv), (int)rte_socket_id(),
				      RTE_MEMPOOL_F_NO_IOVA_CONTIG);
	if (!mp)
		return NULL;
	if ((rc = rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), NULL)) != 0)
		goto fail;
	rte_pktmbuf_pool_init(mp, &priv);
	if ((rc = rte_mempool_populate_default(mp)) < 0)
		goto fail;
	rte_mempool_obj_iter(mp, rte_pktmbuf_init, NULL);
	return mp;
fail:
	rte_mempool_free(mp);
	rte_errno = -rc;
	return NULL;
}

struct umem_span {
	uintptr_t lo, hi; /* the UMEM the driver will register */
	uint32_t osz;
	int outside;
};

static void umem_check_obj(struct rte_mempool *mp, void *arg, void *obj, unsigned idx)
{
	struct umem_span *u = arg;
	uintptr_t start = (uintptr_t)obj - mp->header_size;
	(void)idx;
	if (start < u->lo || start + u->osz > u->hi)
		u->outside++;
}

/* Whether every mbuf of the pool lies inside the UMEM the af_xdp driver
 * derives from it (see pool_create): refused at start rather than a port
 * that dies once the pool reaches the outside ones. */
static int pool_fits_umem(struct rte_mempool *mp)
{
	struct rte_mempool_memhdr *h = STAILQ_FIRST(&mp->mem_list);
	struct umem_span u = { 0 };
	if (!h || mp->nb_mem_chunks != 1)
		return 0;
	u.osz = rte_mempool_calc_obj_size(mp->elt_size, mp->flags, NULL);
	u.lo = (uintptr_t)h->addr & ~((uintptr_t)getpagesize() - 1);
	u.hi = (uintptr_t)h->addr + (uintptr_t)mp->populated_size * u.osz;
	rte_mempool_obj_iter(mp, umem_check_obj, &u);
	return u.outside == 0;
}

/* The IP MTU the port is configured for: the one asked for, as far as the
 * port takes jumbo frames (DPDK 22.11's tap and memif take 1500), and, for
 * a UMEM pool, as far as one buffer fits a page. */
static uint16_t port_mtu(const struct dpdk_netif *d, uint16_t want, const char *device)
{
	const struct dev_traits *t = &d->spec.dev.t;
	struct rte_eth_dev_info info;
	uint16_t mtu = want;

	if (mtu > 1500 && rte_eth_dev_info_get(d->port, &info) == 0) {
		uint32_t most = info.max_rx_pktlen > 18 ? info.max_rx_pktlen - 18 : 1500;
		if (info.max_mtu && info.max_mtu < most)
			most = info.max_mtu;
		if (mtu > most) /* as much as it takes, if that is worth bigger buffers */
			mtu = most < 2048 ? 1500 : (uint16_t)most;
	}
	while (t->umem_pool && mtu > 1500 &&
	       rte_mempool_calc_obj_size((uint32_t)sizeof(struct rte_mbuf) + DPDK_PRIV_SIZE +
					 dpdk_mbuf_room(mtu, t->rx_gap), 0, NULL) > (uint32_t)getpagesize())
		mtu = mtu - 64 > 1500 ? (uint16_t)(mtu - 64) : 1500;
	if (mtu != want)
		demi_log(DEMI_LOG_INFO, "%s: the port takes MTU %u at most; using it", device, mtu);
	return mtu;
}

/* The packet pool, with buffers for d->mtu. */
static int pool_make(struct dpdk_netif *d, uint32_t asked, struct open_fail *f)
{
	uint32_t room = dpdk_mbuf_room(d->mtu, d->spec.dev.t.rx_gap);
	uint32_t mbufs = dpdk_pool_mbufs(asked, room);

	d->mp = pool_create(mbufs, room, d->spec.dev.t.umem_pool);
	if (!d->mp) {
		snprintf(f->why, sizeof(f->why), "cannot create the packet pool");
		snprintf(f->extra, sizeof(f->extra), "%u mbufs: %s", mbufs, rte_strerror(rte_errno));
		return -ENOMEM;
	}
	if (d->spec.dev.t.umem_pool && !pool_fits_umem(d->mp)) {
		snprintf(f->why, sizeof(f->why), "the packet pool is not one packed area (af_xdp UMEM)");
		return -ENOMEM;
	}
	d->pool.alloc = dpdk_pool_alloc;
	d->pool.free = dpdk_pool_free;
	d->pool.in_use = 0;
	d->pool.capacity = mbufs;
	d->pool.buf_size = room;
	return 0;
}

/* The netif the stack sees, once the port runs: the fd to sleep on, MAC, MTU. */
static void netif_fill(struct dpdk_netif *d, uint32_t caps)
{
	struct rte_ether_addr mac;
	uint16_t mtu;

	if (d->wait_fd < 0 && d->spec.dev.t.ring_family)
		d->wait_fd = ring_fd_find(d->spec.dev.t.ring_family, d->spec.dev.iface);
	d->wait_is_counter = d->wait_fd >= 0 && fd_is_eventfd(d->wait_fd);
	if (d->wait_fd >= 0) {
		rte_eth_dev_rx_intr_disable(d->port, 0);
		dpdk_sig_to_intr_thread(d->wait_fd);
	}
	d->nif.ops = &dpdk_ops;
	d->nif.pool = &d->pool;
	/* tap's queues, and a shared NIC's (one queue per process): a forked
	 * worker sends no RST for a connection it does not know */
	d->nif.caps = caps | (d->spec.dev.t.multi_proc || d->spec.dev.t.shared ? NETIF_CAP_SHARED : 0);
	rte_eth_macaddr_get(d->port, &mac);
	memcpy(d->nif.mac, mac.addr_bytes, 6);
	if (d->spec.dev.t.own_mac) /* the port's is the kernel end's */
		memcpy(d->nif.mac, d->spec.mac, 6);
	if (rte_eth_dev_get_mtu(d->port, &mtu) != 0 || mtu < 576)
		mtu = 1500;
	d->nif.mtu = mtu > d->mtu ? d->mtu : mtu; /* a frame fits one buffer */
}

/* A memif client connected on start: let the link come up (a server's
 * waits for a client, which may come much later). How it went, in note. */
static void link_wait(struct dpdk_netif *d, char *note, size_t n)
{
	int i = 0, tries = d->spec.dev.t.link_wait_ms / 10;

	note[0] = 0;
	if (!tries)
		return;
	while (i < tries && !dpdk_link_up(&d->nif)) {
		usleep(10 * 1000);
		i++;
	}
	if (i < tries)
		snprintf(note, n, ", link up after %d ms", i * 10);
	else
		snprintf(note, n, ", link not up after %d ms: frames wait for it", i * 10);
}

static void open_banner(const struct dpdk_netif *d, const char *device, const char *link)
{
	const uint8_t *m = d->nif.mac;

	demi_log(DEMI_LOG_INFO, "%s: port %u mac %02x:%02x:%02x:%02x:%02x:%02x mtu %u caps %#x "
		 "wait fd %d%s, %u mbufs%s%s", device, d->port, m[0], m[1], m[2], m[3], m[4], m[5],
		 d->nif.mtu, d->nif.caps, d->wait_fd, d->wait_is_counter ? " (eventfd)" : "",
		 d->pool.capacity, d->spec.hugepages ? ", hugepages" : ", no hugepages", link);
}

/* The steps in order; after EAL began, a failure takes the one way out
 * below: DPDK's last line is the detail, the port closed, the pool freed. */
int dpdk_netif_open(struct netif **out, const struct dpdk_open_cfg *cfg, char *err, size_t errlen)
{
	struct dpdk_netif *d = &dn;
	struct open_fail f = { "", "" };
	char last[256], link[64];
	uint32_t caps;
	int rc, have_port = 0;

	if (d->started)
		return open_err(err, errlen, cfg->device, "already open in this process", NULL);
	if (eal_state != 0)
		return open_err(err, errlen, cfg->device, eal_state < 0 ? "EAL failed earlier in this process" :
				"DPDK starts once per process (started before, or before fork)", NULL);
	if ((rc = open_spec(&d->spec, cfg, err, errlen)) != 0)
		return rc;

	log_capture_begin(); /* DPDK's lines until the port runs: the reason of a failure */
	if ((rc = eal_start(&d->spec, &f)) != 0)
		goto fail;
	if ((rc = port_find(&d->spec, &d->port)) != 0) {
		snprintf(f.why, sizeof(f.why), "the driver made no port");
		goto fail;
	}
	have_port = 1;
	d->mtu = port_mtu(d, cfg->mtu ? cfg->mtu : 1500, cfg->device);
	if ((rc = pool_make(d, cfg->mbufs, &f)) != 0 || (rc = port_start(d, &caps, &f)) != 0)
		goto fail;
	if (d->spec.dev.t.shared)
		d->nif.kernel_ifindex = (int)if_nametoindex(d->spec.dev.iface);
	log_capture_end(last, sizeof(last));

	d->started = 1;
	netif_fill(d, caps);
	d->ifindex = d->spec.dev.iface[0] ? if_nametoindex(d->spec.dev.iface) : 0;
	snprintf(d->nif.name, sizeof(d->nif.name), "%s", cfg->device);
	link_wait(d, link, sizeof(link));
	open_banner(d, cfg->device, link);
	if (d->spec.dev.t.multi_proc && cfg->keep_dev && (rc = dpdk_tap_keep(d->spec.dev.iface, d->wait_fd)) != 0)
		demi_log(rc > 0 ? DEMI_LOG_INFO : DEMI_LOG_WARN, "%s: shared with another process: %s", cfg->device,
			 rc > 0 ? "made persistent, it outlives this one" : strerror(-rc));
	*out = &d->nif;
	return 0;

fail:
	log_capture_end(last, sizeof(last));
	if (d->share.link_fd >= 0) /* its detach fails on our link, harmlessly */
		rte_log_set_level_pattern("pmd.net.af_xdp*", RTE_LOG_CRIT);
	if (have_port)
		rte_eth_dev_close(d->port);
	xdp_share_close(&d->share);
	if (d->mp) {
		rte_mempool_free(d->mp);
		d->mp = NULL;
	}
	if (f.extra[0])
		snprintf(last + strlen(last), sizeof(last) - strlen(last), "%s%s", last[0] ? "; " : "", f.extra);
	return open_err(err, errlen, cfg->device, f.why, last);
}
