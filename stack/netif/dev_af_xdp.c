/* af_xdp:IF: DPDK's net_af_xdp on queue 0 of the interface IF. The packet
 * pool is the kernel's UMEM (see pool_create in dpdk.c), the kernel writes a
 * frame past its 256-byte XDP headroom, the driver attaches an XDP program
 * (one a killed process left is detached first, by dpdk.c with libbpf), and
 * the stack sleeps on the driver's XDP socket. */
#include <stdio.h>
#include <sys/socket.h>

#include "dpdk.h"

static int af_xdp_devarg(struct dpdk_spec *sp, const struct dpdk_env *env, char *why, size_t whylen)
{
	(void)env;
	(void)why;
	(void)whylen;
	snprintf(sp->devarg, sizeof(sp->devarg), "net_af_xdp0,iface=%s,start_queue=0,queue_count=1", sp->dev.iface);
	return 0;
}

const struct dev_kind dev_af_xdp = {
	.name = "af_xdp",
	.syntax = "af_xdp:IF",
	.vdev = 1,
	.parse = dev_parse_iface,
	.devarg = af_xdp_devarg,
	.traits = { .rx_gap = 256, .umem_pool = 1, .xdp_prog = 1, .ring_family = AF_XDP },
};
