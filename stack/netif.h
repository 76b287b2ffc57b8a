/* netif: the driver interface between the stack and a device.
 *
 * Two drivers: netif/dpdk.c (any DPDK port) and netif/memlink.c (an in-memory
 * link for tests, with seeded fault injection). The stack knows nothing else
 * of the device. */
#ifndef DEMI_NETIF_H
#define DEMI_NETIF_H

#include <stdint.h>

#include "buf.h"

#define NETIF_CAP_RX_CKSUM      (1u << 0) /* rx frames carry PBUF_F_RX_*_CKSUM_* */
#define NETIF_CAP_TX_CKSUM_IPV4 (1u << 1)
#define NETIF_CAP_TX_CKSUM_TCP  (1u << 2)
#define NETIF_CAP_TX_CKSUM_UDP  (1u << 3)
#define NETIF_CAP_SHARED        (1u << 4) /* other processes may attach queues of the same device */

struct netif;

struct netif_ops {
	/* Up to n received frames; the caller owns them. */
	uint16_t (*rx_burst)(struct netif *nif, struct pbuf **pkts, uint16_t n);
	/* Sends up to n frames and takes ownership of those it returns as sent;
	 * the caller still owns pkts[ret..n-1]. */
	uint16_t (*tx_burst)(struct netif *nif, struct pbuf **pkts, uint16_t n);
	/* An fd that turns readable when a frame arrives while interrupts are
	 * armed (intr_arm(nif, 1)); -1 if the device has none. Optional. */
	int (*wait_fd)(struct netif *nif);
	int (*intr_arm)(struct netif *nif, int on);
	int (*link_up)(struct netif *nif); /* 1 up, 0 down */
	/* Optional: 1 once the device no longer exists (its kernel interface
	 * was deleted); a device that is merely down is not gone. */
	int (*gone)(struct netif *nif);
	void (*close)(struct netif *nif);
	/* Optional: the stack now serves (on 1) or no longer serves (on 0) a
	 * local port (raddr 0: a listener, a bound UDP port) or the 4-tuple of
	 * a connection it opened; host byte order, proto IPPROTO_TCP or
	 * IPPROTO_UDP. A device shared with the kernel steers only these to the
	 * stack. */
	void (*steer)(struct netif *nif, uint8_t proto, uint32_t laddr, uint16_t lport, uint32_t raddr,
		      uint16_t rport, int on);
};

struct netif {
	const struct netif_ops *ops;
	struct pbuf_pool *pool; /* tx frames are allocated here */
	uint8_t mac[6];
	uint16_t mtu;  /* IP MTU: largest L3 packet */
	uint32_t caps; /* NETIF_CAP_* */
	char name[64];
	/* Nonzero: the kernel interface (its index) this device shares with
	 * the kernel, which owns its address, ARP and routes. */
	int kernel_ifindex;
};

static inline uint16_t netif_rx_burst(struct netif *nif, struct pbuf **pkts, uint16_t n)
{
	return nif->ops->rx_burst(nif, pkts, n);
}

static inline void netif_steer(struct netif *nif, uint8_t proto, uint32_t laddr, uint16_t lport, uint32_t raddr,
			       uint16_t rport, int on)
{
	if (nif->ops->steer)
		nif->ops->steer(nif, proto, laddr, lport, raddr, rport, on);
}

static inline uint16_t netif_tx_burst(struct netif *nif, struct pbuf **pkts, uint16_t n)
{
	return nif->ops->tx_burst(nif, pkts, n);
}

#endif
