/* The announcement a process writes on its queue of a shared tap, read by
 * the tap's tc program (steer.bpf.c): after the Ethernet header (broadcast
 * destination, ethertype TAP_ANN_ETHERTYPE), network byte order except
 * where said. */
#ifndef DEMI_TAP_ANN_H
#define DEMI_TAP_ANN_H

#include <linux/types.h>

#define TAP_ANN_ETHERTYPE 0x88b5 /* IEEE 802 local experimental */
#define TAP_ANN_MAGIC 0x44454d49 /* "DEMI" */
#define TAP_ANN_PORTS 16        /* listening ports per process */
#define TAP_ANN_GONE 0xffff     /* nports: the process leaves */
#define TAP_PROCS 64            /* processes the steering tells apart */
#define TAP_QUEUES 256          /* tun's MAX_TAP_QUEUES */

struct tap_ann {
	__u32 magic;
	__u32 pid;    /* host byte order: only compared */
	__u16 nports; /* host byte order */
	__u16 ports[TAP_ANN_PORTS];
};

#endif
