/* tap:IF: DPDK's net_tap makes the interface IF; its kernel end is the peer.
 * net_tap gives its mac= to both ends, the kernel's included, and passes
 * every frame whatever its address: the kernel end gets mac=, the stack uses
 * its own (02:de:.. vs 02:df:..). The queue fd is its rx interrupt. */
#include <stdio.h>
#include <string.h>

#include "dpdk.h"

/* The stack's MAC when none is configured. */
void dpdk_mac_from_name(const char *name, uint8_t mac[6])
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const char *c = name; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	mac[0] = 0x02; /* locally administered, unicast */
	mac[1] = 0xde;
	mac[2] = (uint8_t)(h >> 24);
	mac[3] = (uint8_t)(h >> 16);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
}

static int tap_devarg(struct dpdk_spec *sp, const struct dpdk_env *env, char *why, size_t whylen)
{
	uint8_t m[6];

	(void)why;
	(void)whylen;
	if (env->mac)
		memcpy(m, env->mac, 6);
	else
		dpdk_mac_from_name(sp->dev.iface, m);
	memcpy(sp->mac, m, 6);
	m[1] ^= 0x01;
	snprintf(sp->devarg, sizeof(sp->devarg), "net_tap0,iface=%s,mac=%02x:%02x:%02x:%02x:%02x:%02x",
		 sp->dev.iface, m[0], m[1], m[2], m[3], m[4], m[5]);
	return 0;
}

const struct dev_kind dev_tap = {
	.name = "tap",
	.syntax = "tap:IF",
	.vdev = 1,
	.parse = dev_parse_iface,
	.devarg = tap_devarg,
	.traits = { .try_intr = 1, .own_mac = 1 },
};
