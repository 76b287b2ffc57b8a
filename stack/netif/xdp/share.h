/* The steering program (steer.bpf.c) of an xdp:IF device, shared by every
 * process on IF, one receive queue each (share.c). */
#ifndef DEMI_XDP_SHARE_H
#define DEMI_XDP_SHARE_H

#include <stddef.h>
#include <stdint.h>

/* Where the per-interface and per-queue lock files live. */
#define XDP_LOCK_DIR "/run/libdemi"

struct xdp_share {
	int link_fd;  /* this process's reference to the program's bpf_link */
	int lock_fd;  /* the queue's lock file, locked while the process lives */
	int queue;    /* the queue this process holds, -1: none */
	int map_listen, map_udp, map_flows, map_owners;
	int warned;
};

#define XDP_SHARE_INIT { -1, -1, -1, -1, -1, -1, -1, 0 }

/* Join the program on iface (or load and attach it if none), then take
 * queue `want` (-1: the first free one) and clear what a killed process
 * left for that queue. 0, or -errno with a one-line reason in why. */
int xdp_share_open(struct xdp_share *s, const char *iface, int want, char *why, size_t n);

/* This process's entries for its queue out, its references closed: the
 * kernel detaches the program when the last process's link closes. Needs
 * no privilege (the fds were opened at start). */
void xdp_share_close(struct xdp_share *s);

/* Steer (on) or stop steering a port (raddr 0: a listener or bound UDP
 * port) or a connection's 4-tuple to this process's queue. Host order.
 * 0 or -errno. */
int xdp_share_steer(struct xdp_share *s, uint8_t proto, uint32_t laddr, uint16_t lport, uint32_t raddr,
		    uint16_t rport, int on);

/* The receive queues of iface as its driver counts them (ethtool -l; none
 * reported: one). In dev_xdp.c. */
int xdp_queue_count(const char *iface);

/* XDP_LOCK_DIR/xdp.NETNS.IF.lock (queue -1) or .qN.lock: interface names
 * are per network namespace, so this one's inode is in the name. In
 * dev_xdp.c (demi-run --prepare makes them). */
void xdp_lock_path(char *out, size_t n, const char *iface, int queue);

/* Whether the program behind prog_fd is ours (the name libxdp looks for,
 * and our maps). */
int xdp_share_is_ours(int prog_fd);

#endif
