/* The device a stack runs on, as the [dpdk] device key names it: KIND:ARG
 * (tap:IF, memif:SOCK,role=server|client[,KEY=VALUE...], af_xdp:IF,
 * af_packet:IF, pci:ADDR, xdp:IF). The grammar lives once, in the table of device
 * kinds (stack/netif/dev.c); a configuration checks its value here and the
 * DPDK driver parses the same string when it starts. Needs no DPDK. */
#ifndef DEMI_DEV_H
#define DEMI_DEV_H

#include <stddef.h>

/* 0 if `device` is a device string the driver takes, else -EINVAL with the
 * reason in why (one phrase, without the device itself). */
int demi_dev_check(const char *device, char *why, size_t whylen);

struct in_addr;
/* The address a device shares with the kernel (xdp:IF: IF's first IPv4
 * address and its prefix length), for a configuration without [net]
 * address. 0; -ENOTSUP for a kind that has none of its own; else -errno
 * with the reason in why. */
int demi_dev_default_addr(const char *device, struct in_addr *addr, unsigned *prefix_len, char *why,
			  size_t whylen);

#endif
