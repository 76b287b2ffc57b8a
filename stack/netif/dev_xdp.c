/* xdp:IF[,queue=N]: the interface shared with the kernel. DPDK's net_af_xdp
 * on queue N of IF (default: the first queue no other process holds) with
 * our own XDP program (xdp/steer.bpf.c, embedded in the library, loaded
 * once per interface and shared by the processes on it: xdp/share.c, which
 * picks the queue before EAL starts: env->xdp_queue), which sends to the
 * stack only the flows it serves and everything else to the kernel. The kernel keeps IF's address, ARP and
 * routes: the stack takes IF's address by default, learns neighbours from
 * the kernel (rt/neigh.c) and sends no ARP itself. Otherwise as af_xdp: the
 * pool is the UMEM, frames land past the 256-byte XDP headroom, the stack
 * sleeps on the XDP socket.
 *
 * Before EAL starts, prepare checks what the driver would only report in
 * its own words: the interface exists, carries Ethernet frames (the program
 * parses them), and has the queue asked, counted as the driver counts
 * (ethtool channels; none reported: one queue). dpdk.c then checks that no
 * other XDP program holds the interface. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>

#include "dpdk.h"
#include "xdp/share.h"

#define XDP_QUEUE_MAX 63 /* the program's xsks_map holds 64 */

static int xdp_parse(struct dev *d, const char *arg, char *why, size_t whylen)
{
	const char *comma = strchr(arg, ',');
	char name[32];

	d->queue = -1; /* the first free one */
	if (!comma)
		return dev_parse_iface(d, arg, why, whylen);
	if (strncmp(comma, ",queue=", 7) != 0)
		return dev_why(why, whylen, "xdp:IF takes only ,queue=N after the interface");
	{
		char *end;
		long q = strtol(comma + 7, &end, 10);
		if (!comma[7] || *end || q < 0 || q > XDP_QUEUE_MAX)
			return dev_why(why, whylen, "queue=N: N from 0 to %d", XDP_QUEUE_MAX);
		d->queue = (int)q;
	}
	snprintf(name, sizeof(name), "%.*s", (int)(comma - arg), arg);
	return dev_parse_iface(d, name, why, whylen);
}

static int xdp_devarg(struct dpdk_spec *sp, const struct dpdk_env *env, char *why, size_t whylen)
{
	(void)why;
	(void)whylen;
	/* no xdp_prog=: libxdp finds ours attached (xdp/share.c) */
	snprintf(sp->devarg, sizeof(sp->devarg), "net_af_xdp0,iface=%s,start_queue=%d,queue_count=1", sp->dev.iface,
		 sp->dev.queue >= 0 ? sp->dev.queue : env->xdp_queue);
	return 0;
}

void xdp_lock_path(char *out, size_t n, const char *iface, int queue)
{
	struct stat ns;

	if (stat("/proc/self/ns/net", &ns) != 0)
		ns.st_ino = 0;
	if (queue < 0)
		snprintf(out, n, XDP_LOCK_DIR "/xdp.%lu.%s.lock", (unsigned long)ns.st_ino, iface);
	else
		snprintf(out, n, XDP_LOCK_DIR "/xdp.%lu.%s.q%d.lock", (unsigned long)ns.st_ino, iface, queue);
}

int xdp_queue_count(const char *iface)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ifreq ifr;
	int fd = (int)syscall(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc;

	if (fd < 0)
		return 1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", iface);
	ifr.ifr_data = (void *)&ch;
	rc = ioctl(fd, SIOCETHTOOL, &ifr);
	close(fd);
	if (rc != 0)
		return 1;
	if (ch.max_combined) /* a NIC's channels */
		return (int)ch.combined_count;
	return ch.rx_count ? (int)ch.rx_count : 1; /* a veth's separate rx queues */
}

static int xdp_prepare(const struct dev *d, char *why, size_t whylen)
{
	struct ifreq ifr;
	int fd, queues;

	if (!if_nametoindex(d->iface)) {
		dev_why(why, whylen, "no interface %s", d->iface);
		return -ENODEV;
	}
	fd = (int)syscall(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); /* not the shim's socket() */
	if (fd < 0)
		return 0; /* the driver says what is wrong */
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", d->iface);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) == 0 && ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
		close(fd);
		dev_why(why, whylen, "%s has no XDP support here: not an Ethernet interface (link type %d)", d->iface,
			ifr.ifr_hwaddr.sa_family);
		return -EOPNOTSUPP;
	}
	close(fd);
	queues = xdp_queue_count(d->iface);
	if (d->queue >= queues) {
		dev_why(why, whylen, "%s has %d queue%s (ethtool -l), queue %d asked", d->iface, queues,
			queues == 1 ? "" : "s", d->queue);
		return -ERANGE;
	}
	return 0;
}

const struct dev_kind dev_xdp = {
	.name = "xdp",
	.syntax = "xdp:IF[,queue=N]",
	.vdev = 1,
	.parse = xdp_parse,
	.devarg = xdp_devarg,
	.prepare = xdp_prepare,
	.traits = { .rx_gap = 256, .umem_pool = 1, .xdp_prog = 1, .ring_family = AF_XDP, .shared = 1 },
};
