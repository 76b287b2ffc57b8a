/* xdp:IF: the interface shared with the kernel. DPDK's net_af_xdp on queue 0
 * of IF with our own XDP program (xdp/steer.bpf.c, embedded in the library
 * and handed to the driver as a file by dpdk.c: env->xdp_prog), which sends
 * to the stack only the flows it serves and everything else to the kernel.
 * The kernel keeps IF's address, ARP and routes: the stack takes IF's
 * address by default, learns neighbours from the kernel (rt/neigh.c) and
 * sends no ARP itself. Otherwise as af_xdp: the pool is the UMEM, frames land
 * past the 256-byte XDP headroom, the stack sleeps on the XDP socket. */
#include <stdio.h>
#include <sys/socket.h>

#include "dpdk.h"

static int xdp_devarg(struct dpdk_spec *sp, const struct dpdk_env *env, char *why, size_t whylen)
{
	if (!env->xdp_prog || !*env->xdp_prog)
		return dev_why(why, whylen, "no XDP program to load");
	snprintf(sp->devarg, sizeof(sp->devarg), "net_af_xdp0,iface=%s,start_queue=0,queue_count=1,xdp_prog=%s",
		 sp->dev.iface, env->xdp_prog);
	return 0;
}

const struct dev_kind dev_xdp = {
	.name = "xdp",
	.syntax = "xdp:IF",
	.vdev = 1,
	.parse = dev_parse_iface,
	.devarg = xdp_devarg,
	.traits = { .rx_gap = 256, .umem_pool = 1, .xdp_prog = 1, .ring_family = AF_XDP, .shared = 1 },
};
