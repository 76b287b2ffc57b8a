/* af_packet:IF: DPDK's net_af_packet on the interface IF. No rx interrupt:
 * the stack sleeps on the driver's packet socket. */
#include <stdio.h>
#include <sys/socket.h>

#include "dpdk.h"

static int af_packet_devarg(struct dpdk_spec *sp, const struct dpdk_env *env, char *why, size_t whylen)
{
	(void)env;
	(void)why;
	(void)whylen;
	snprintf(sp->devarg, sizeof(sp->devarg), "net_af_packet0,iface=%s", sp->dev.iface);
	return 0;
}

const struct dev_kind dev_af_packet = {
	.name = "af_packet",
	.syntax = "af_packet:IF",
	.vdev = 1,
	.parse = dev_parse_iface,
	.devarg = af_packet_devarg,
	.traits = { .ring_family = AF_PACKET },
};
