/* The live counters of one stack instance, published in shared memory for
 * build/demistat (and anything else) to read without stopping the program.
 *
 * File: /dev/shm/demi.<pid>.<instance> (mode 0600, the process's owner),
 * created when the instance starts, removed when it stops. Layout (all
 * integers native-endian, offsets from the start of the file):
 *
 *   struct demi_shm_hdr                       at 0
 *   char names[ncounters][DEMI_SHM_NAME_LEN]  at names_off   (NUL-terminated)
 *   uint64_t values[ncounters]                at values_off
 *   struct demi_shm_conn conns[conns_max]     at conns_off   (nconns valid)
 *
 * Names and sizes are fixed for the life of the file; values and the
 * connection table change. The writer brackets every update with `seq`
 * (odd while writing), so a reader copies what it needs and retries while
 * seq was odd or changed meanwhile:
 *
 *   do { s = atomic_load(&h->seq); copy...; } while ((s & 1) || s != atomic_load(&h->seq));
 *
 * Values are refreshed about once per millisecond while the instance is
 * being driven, the connection table about every 100 ms (update_ns and
 * conns_update_ns say when, on CLOCK_MONOTONIC). Counter names are the
 * stack's (stack/counters_net.def, stack/tcp/counters.def) followed by the
 * runtime's own, prefixed RT_. A reader must check magic and version and use
 * hdr_size, conn_size and the offsets rather than sizeof: later versions only
 * append fields. */
#ifndef DEMI_SHM_H
#define DEMI_SHM_H

#include <stdint.h>

#define DEMI_SHM_MAGIC    0x494d4544u /* "DEMI" */
#define DEMI_SHM_VERSION  1u
#define DEMI_SHM_NAME_LEN 48
#define DEMI_SHM_DIR      "/dev/shm"
#define DEMI_SHM_PREFIX   "demi."     /* + pid "." instance */

struct demi_shm_hdr {
	uint32_t magic;        /* DEMI_SHM_MAGIC */
	uint32_t version;      /* DEMI_SHM_VERSION */
	uint32_t hdr_size;     /* sizeof(struct demi_shm_hdr) of the writer */
	uint32_t total_size;   /* bytes of the file */
	int32_t pid;
	uint32_t instance;
	char program[64];
	char device[128];      /* the [dpdk] device */
	uint8_t mac[6];
	uint16_t mtu;
	uint32_t addr;         /* IPv4, network byte order */
	uint32_t prefix_len;
	uint64_t start_unix_ns;   /* CLOCK_REALTIME at start */
	uint64_t update_ns;       /* CLOCK_MONOTONIC of the latest values */
	uint64_t conns_update_ns; /* CLOCK_MONOTONIC of the latest connection table */
	uint64_t seq;             /* odd while the writer is updating */
	uint32_t ncounters;
	uint32_t names_off;
	uint32_t values_off;
	uint32_t conns_off;
	uint32_t conns_max;
	uint32_t nconns;          /* valid entries; more connections than conns_max are not shown */
	uint32_t conn_size;       /* sizeof(struct demi_shm_conn) of the writer */
	uint32_t link_up;         /* 1 up, 0 down, as of update_ns */
};

struct demi_shm_conn {
	uint32_t local_addr, peer_addr;  /* network byte order */
	uint16_t local_port, peer_port;  /* host byte order */
	int32_t type;                    /* SOCK_STREAM / SOCK_DGRAM */
	int32_t state;                   /* TCP_STATE_* (stack/tcp), -1 for UDP */
	char state_name[16];             /* e.g. "ESTABLISHED" */
	uint32_t snd_queue, rcv_queue;
	uint32_t cwnd, ssthresh, srtt_us, rto_us, mss;
	uint32_t retransmits;
};

/* Why each socket fd went where it did, published by the shim of a process
 * that has a bypass configuration: /dev/shm/demi.<pid>.fds (mode 0600),
 * struct demi_fds_hdr then one struct demi_fd_rec per fd number (index =
 * fd, nrecs of them; the file is sparse). A record is written when the
 * shim installs, decides or forgets a socket; `seq` is odd while it is
 * being written. state 0 means the shim holds nothing for that fd: it is
 * not a socket, or one created before the shim could see it. */
#define DEMI_FDS_MAGIC   0x53444644u /* "DFDS" */
#define DEMI_FDS_VERSION 1u
#define DEMI_FDS_SUFFIX  "fds"       /* DEMI_SHM_PREFIX pid "." DEMI_FDS_SUFFIX */

enum demi_fd_state {
	DEMI_FD_NONE = 0,
	DEMI_FD_KERNEL = 1,    /* the kernel's, for good */
	DEMI_FD_CANDIDATE = 2, /* a kernel socket that bind/listen/connect may still bypass */
	DEMI_FD_STACK = 3,     /* libdemi's stack */
	DEMI_FD_EPOLL = 4,     /* an epoll set the shim tracks */
};

struct demi_fds_hdr {
	uint32_t magic, version;
	uint32_t hdr_size, rec_size; /* of the writer */
	int32_t pid;
	uint32_t nrecs;              /* fd numbers covered */
	char config[256];            /* the configuration file in use */
};

struct demi_fd_rec {
	uint32_t seq;
	uint8_t state;           /* enum demi_fd_state */
	uint8_t why;             /* the shim's reason code */
	uint8_t listening;
	uint8_t type;            /* SOCK_STREAM, SOCK_DGRAM, ... */
	uint16_t domain;         /* AF_INET, AF_UNIX, ... */
	uint16_t local_port;     /* host order, when bound */
	uint32_t local_addr;     /* network order, when bound */
	char reason[48];         /* the rule or reason, as text */
};

/* Remove the counters and fd-record files (DEMI_SHM_PREFIX PID.*) in dir of
 * processes that died without removing theirs (SIGKILL), so the stats tool
 * never shows a process that is gone. A process may remove the files of its
 * own user's dead processes, root those of any user (a process that dropped
 * root, as nginx's workers do, owns its files as its new user). */
void demi_shm_reclaim(const char *dir);

#endif
