/* The DPDK driver: a struct netif over one DPDK port.
 *
 * dpdk.c talks to DPDK and is built with its flags; dpdk_args.c turns the
 * configured device into EAL arguments and needs no DPDK (it is in the stack
 * archive and unit-tested). What differs per kind of device (tap, memif,
 * af_xdp, af_packet, pci) is one entry of the table in dev.h. */
#ifndef DEMI_NETIF_DPDK_H
#define DEMI_NETIF_DPDK_H

#include <stddef.h>
#include <stdint.h>

#include "../netif.h"
#include "dev.h"

#define DPDK_ARGV_MAX 64

/* A parsed device and the EAL command line for it. */
struct dpdk_spec {
	struct dev dev;     /* the device, its kind and traits */
	uint8_t mac[6];     /* tap: the stack's MAC (the kernel end's differs) */
	char devarg[768];   /* the --vdev argument, or -a's for pci */
	int hugepages;      /* EAL runs on hugepages (--in-memory) */
	int argc;
	char *argv[DPDK_ARGV_MAX];
	char buf[2048];     /* argv strings live here */
};

/* What dpdk_spec_build needs besides the device. */
struct dpdk_env {
	const char *prog;     /* argv[0] */
	const char *cpus;     /* the process's CPUs as a list, e.g. "0,1" (kept with --lcores 0@(cpus)) */
	int hugepages;        /* usable hugepages: --in-memory, else --no-huge -m */
	uint32_t mem_mb;      /* -m with --no-huge */
	const uint8_t *mac;   /* tap: the stack's MAC (NULL: derived from the name) */
	int xdp_queue;        /* xdp: the queue this process took (xdp/share.c), unless the device names one */
};

/* Parse `device`, append `eal_args` (split on blanks), build the EAL argv.
 * 0, or -EINVAL with a one-line reason in err. */
int dpdk_spec_build(struct dpdk_spec *sp, const char *device, const char *eal_args,
		    const struct dpdk_env *env, char *err, size_t errlen);

/* Bytes of free hugepages if hugetlbfs is mounted (0 otherwise), from the
 * given /proc/meminfo and /proc/mounts (paths, for tests). */
uint64_t dpdk_hugepages_free(const char *meminfo, const char *mounts);
/* -m (MiB) for a --no-huge EAL holding `mbufs` packet buffers. */
uint32_t dpdk_mem_mb(uint32_t mbufs, uint32_t room);
/* Bytes of data room per mbuf for an IP MTU: DPDK's default (2 KiB after the
 * headroom) up to 1500, else the headroom, rx_gap and a whole frame (with a
 * VLAN tag) rounded up to a cache line, so a jumbo frame fits one buffer.
 * rx_gap: room a driver leaves before a received frame beyond the mbuf
 * headroom (af_xdp: the kernel's 256-byte XDP headroom). */
uint32_t dpdk_mbuf_room(uint16_t mtu, uint32_t rx_gap);
/* The pool's mbufs: asked (nonzero), else DPDK_MBUFS_DEFAULT at MTU 1500 and,
 * for jumbo frames, about as many bytes in bigger buffers (at least 2048). */
uint32_t dpdk_pool_mbufs(uint32_t asked, uint32_t room);
/* A locally administered MAC derived from a name, stable across runs (dev_tap.c). */
void dpdk_mac_from_name(const char *name, uint8_t mac[6]);

struct dpdk_open_cfg {
	const char *device;
	const char *eal_args;
	const char *name;    /* program name, argv[0] of EAL */
	uint32_t mbufs;      /* 0: DPDK_MBUFS_DEFAULT */
	uint16_t mtu;        /* IP MTU wanted; 0: 1500. Over 1500: jumbo frames if the port takes them */
	int keep_dev;        /* a forked worker: a device it shares must outlive it (dpdk_tap_keep) */
};
#define DPDK_MBUFS_DEFAULT 8192
#define DPDK_ROOM_DEFAULT (2048 + PBUF_HEADROOM) /* RTE_MBUF_DEFAULT_BUF_SIZE */

/* Start EAL (once per process) and the port; one port per process. 0, or
 * -errno with a line naming the device and the reason in err. The netif is
 * released with nif->ops->close (stop + close the port: the memif socket
 * file and XDP program go with it). Defined in dpdk.c. */
int dpdk_netif_open(struct netif **out, const struct dpdk_open_cfg *cfg, char *err, size_t errlen);
/* tap IF with a queue of another process attached besides ours: make it
 * persistent, through our queue fd qfd (-1: a queue attached for the call).
 * 1 made so, 0 alone on it, or -errno. */
int dpdk_tap_keep(const char *iface, int qfd);

#endif
