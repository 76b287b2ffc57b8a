/* The counters file of one instance (layout: demi/shm.h). */
#ifndef DEMI_RT_SHM_H
#define DEMI_RT_SHM_H

#include <stdint.h>

#include "demi/shm.h"
#include "demi/stack.h"

#define RT_SHM_CONNS_MAX 1024

struct rt_shm {
	struct demi_shm_hdr *hdr; /* NULL: not published */
	uint64_t *values;
	struct demi_shm_conn *conns;
	size_t size;
	unsigned nstack;          /* the stack's counters come first */
	unsigned nextra;          /* then the runtime's */
	char path[128];
};

struct rt_shm_info {
	const char *program, *device;
	const uint8_t *mac;
	uint16_t mtu;
	uint32_t addr;  /* network byte order */
	uint8_t prefix_len;
	unsigned instance;
	const char *const *extra_names; /* the runtime's counters */
	unsigned nextra;
};

/* Create and map the file (dir: DEMI_SHM_DIR, or another for tests).
 * 0 or -errno; on failure sh->hdr stays NULL and updates do nothing. */
int rt_shm_create(struct rt_shm *sh, const char *dir, const struct rt_shm_info *info);
/* Copy the counter values in (stack's, then the runtime's). */
void rt_shm_update(struct rt_shm *sh, struct stack *st, const uint64_t *extra, int link_up, uint64_t now);
/* Refill the connection table from stack_foreach_sock. */
void rt_shm_update_conns(struct rt_shm *sh, struct stack *st, uint64_t now);
/* Unmap and remove the file. */
void rt_shm_destroy(struct rt_shm *sh);
/* Unmap only (a forked child: the file is the parent's). */
void rt_shm_forget(struct rt_shm *sh);

#endif
