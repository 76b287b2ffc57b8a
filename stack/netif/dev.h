/* The table of device kinds: what the DPDK driver must know about each kind
 * of [dpdk] device, in one entry per kind (dev_tap.c, dev_memif.c, ...),
 * listed in dev.c. An entry parses and validates its ARG, builds the EAL
 * device argument, may prepare the host before EAL starts, and carries the
 * traits dpdk.c acts on. No DPDK here: the entries are unit-tested.
 *
 * Adding a kind: a file dev_KIND.c defining `const struct dev_kind
 * dev_KIND`, its name below and in dev.c's list, and a case in
 * tests/unit/dpdk_args.c (README.md in this folder). */
#ifndef DEMI_NETIF_DEV_H
#define DEMI_NETIF_DEV_H

#include <stddef.h>
#include <stdint.h>

struct dpdk_spec;
struct dpdk_env;

/* What dpdk.c does differently per kind. Zero is the plain case. */
struct dev_traits {
	uint32_t rx_gap;        /* room the driver leaves before a received frame, beyond the mbuf headroom */
	unsigned try_intr : 1;  /* start with rx interrupts (tap: the queue fd), without if refused */
	unsigned own_mac : 1;   /* the stack's MAC is the spec's, not the port's (tap: that is the kernel end's) */
	unsigned umem_pool : 1; /* the pool is the kernel's UMEM (af_xdp): packed, every object inside, one per page */
	unsigned xdp_prog : 1;  /* the driver attaches an XDP program: a stale one is detached, libbpf's log kept */
	unsigned shared : 1;    /* shared with the kernel (xdp): our steering program, its maps filled from the
				 * stack's ports and flows; the kernel keeps the address, ARP and routes */
	unsigned multi_proc : 1; /* other processes may attach queues of the device (tap): NETIF_CAP_SHARED */
	int ring_family;        /* no rx interrupt: sleep on the driver's socket of this family (AF_XDP, AF_PACKET); 0 none */
	int start_tries;        /* port start attempts, 100 ms apart (0: one) */
	int link_wait_ms;       /* after start, wait this long for the link (0: not at all) */
};

/* A parsed device string. */
struct dev {
	const struct dev_kind *kind;
	struct dev_traits t;    /* the kind's, as this device adjusts them (a memif client waits) */
	char iface[16];         /* tap, af_xdp, af_packet: the interface */
	char path[256];         /* memif: the socket file */
	int server;             /* memif: role=server */
	char extra[256];        /* memif: further KEY=VALUE devargs, each after a ',' */
	char pci[64];           /* pci: the address */
	int queue;              /* xdp: the interface's queue (queue=N; -1: the first free one) */
};

struct dev_kind {
	const char *name;       /* before the ':' */
	const char *syntax;     /* the whole form, for messages: "tap:IF" */
	int vdev;               /* a virtual device (--vdev, --no-pci); else a bus address (-a) */
	/* Validate ARG (after the ':') into d; 0, or -EINVAL with a phrase in why. */
	int (*parse)(struct dev *d, const char *arg, char *why, size_t whylen);
	/* The EAL device argument (--vdev's or -a's) into sp->devarg, from
	 * sp->dev; the tap also sets sp->mac. 0, or -EINVAL with why. */
	int (*devarg)(struct dpdk_spec *sp, const struct dpdk_env *env, char *why, size_t whylen);
	/* Before EAL starts: reclaim what an earlier run left, wait for a peer.
	 * NULL: nothing. 0, or -errno with a phrase in why. */
	int (*prepare)(const struct dev *d, char *why, size_t whylen);
	struct dev_traits traits;
};

extern const struct dev_kind dev_tap, dev_memif, dev_af_xdp, dev_af_packet, dev_pci, dev_xdp;

/* Parse KIND:ARG through the table; 0, or -EINVAL with a phrase in why. */
int dev_parse(struct dev *d, const char *device, char *why, size_t whylen);
/* An interface name as the kernel and DPDK's devargs take it: 1..15
 * characters, none of '/', ',', '=', ':' or blanks. */
int dev_iface_ok(const char *s);
/* The interface ARG of tap, af_xdp, af_packet into d->iface. */
int dev_parse_iface(struct dev *d, const char *arg, char *why, size_t whylen);
/* The accepted forms, "tap:IF, memif:...", for messages; returns `out`. */
const char *dev_syntax(char *out, size_t outlen);
/* snprintf into why; returns -EINVAL. */
int dev_why(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
