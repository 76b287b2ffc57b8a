/* The counters file: publishing an instance's counters and connection table
 * in a shared-memory file (demi/shm.h) for demistat and other readers.
 * The writer is the thread driving the instance, under its lock; readers
 * use the seq counter. Everything is sized once, at create. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shm.h"

static void seq_begin(struct demi_shm_hdr *h)
{
	atomic_fetch_add_explicit((_Atomic uint64_t *)&h->seq, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

static void seq_end(struct demi_shm_hdr *h)
{
	atomic_thread_fence(memory_order_release);
	atomic_fetch_add_explicit((_Atomic uint64_t *)&h->seq, 1, memory_order_relaxed);
}

int rt_shm_create(struct rt_shm *sh, const char *dir, const struct rt_shm_info *info)
{
	struct demi_shm_hdr *h;
	struct timespec ts;
	unsigned nstack = 0, n;
	size_t names_off, values_off, conns_off, size;
	char *names;
	void *map;
	int fd;

	memset(sh, 0, sizeof(*sh));
	while (stack_counter_name(nstack))
		nstack++;
	n = nstack + info->nextra;
	names_off = (sizeof(*h) + 63) & ~(size_t)63;
	values_off = (names_off + (size_t)n * DEMI_SHM_NAME_LEN + 63) & ~(size_t)63;
	conns_off = (values_off + (size_t)n * 8 + 63) & ~(size_t)63;
	size = conns_off + (size_t)RT_SHM_CONNS_MAX * sizeof(struct demi_shm_conn);

	demi_shm_reclaim(dir ? dir : DEMI_SHM_DIR);
	snprintf(sh->path, sizeof(sh->path), "%s/" DEMI_SHM_PREFIX "%d.%u", dir ? dir : DEMI_SHM_DIR,
		 (int)getpid(), info->instance);
	fd = open(sh->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) != 0) {
		int e = errno;
		close(fd);
		unlink(sh->path);
		return -e;
	}
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		unlink(sh->path);
		return -ENOMEM;
	}
	h = map;
	h->hdr_size = sizeof(*h);
	h->total_size = (uint32_t)size;
	h->pid = (int32_t)getpid();
	h->instance = info->instance;
	snprintf(h->program, sizeof(h->program), "%s", info->program ? info->program : "");
	snprintf(h->device, sizeof(h->device), "%s", info->device ? info->device : "");
	if (info->mac)
		memcpy(h->mac, info->mac, 6);
	h->mtu = info->mtu;
	h->addr = info->addr;
	h->prefix_len = info->prefix_len;
	clock_gettime(CLOCK_REALTIME, &ts);
	h->start_unix_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	h->ncounters = n;
	h->names_off = (uint32_t)names_off;
	h->values_off = (uint32_t)values_off;
	h->conns_off = (uint32_t)conns_off;
	h->conns_max = RT_SHM_CONNS_MAX;
	h->conn_size = sizeof(struct demi_shm_conn);
	names = (char *)map + names_off;
	for (unsigned i = 0; i < n; i++) {
		const char *nm = i < nstack ? stack_counter_name(i) : info->extra_names[i - nstack];
		snprintf(names + (size_t)i * DEMI_SHM_NAME_LEN, DEMI_SHM_NAME_LEN, "%s", nm);
	}
	h->version = DEMI_SHM_VERSION;
	atomic_thread_fence(memory_order_release);
	h->magic = DEMI_SHM_MAGIC; /* last: a reader seeing it sees the rest */

	sh->hdr = h;
	sh->values = (uint64_t *)((char *)map + values_off);
	sh->conns = (struct demi_shm_conn *)((char *)map + conns_off);
	sh->size = size;
	sh->nstack = nstack;
	sh->nextra = info->nextra;
	return 0;
}

void rt_shm_update(struct rt_shm *sh, struct stack *st, const uint64_t *extra, int link_up, uint64_t now)
{
	const uint64_t *v;
	unsigned n;
	if (!sh->hdr)
		return;
	v = stack_counter_values(st, &n);
	if (n > sh->nstack)
		n = sh->nstack;
	seq_begin(sh->hdr);
	memcpy(sh->values, v, n * sizeof(*v));
	memcpy(sh->values + sh->nstack, extra, sh->nextra * sizeof(*extra));
	sh->hdr->link_up = (uint32_t)link_up;
	sh->hdr->update_ns = now;
	seq_end(sh->hdr);
}

struct conn_fill {
	struct rt_shm *sh;
	uint32_t n;
};

static void conn_one(const struct sock_info *si, void *arg)
{
	struct conn_fill *f = arg;
	struct demi_shm_conn *c;
	const char *name;
	if (f->n >= RT_SHM_CONNS_MAX || si->local.sin_family != AF_INET) /* the table holds IPv4 */
		return;
	c = &f->sh->conns[f->n++];
	memset(c, 0, sizeof(*c));
	c->local_addr = si->local.sin_addr.s_addr;
	c->peer_addr = si->peer.sin_addr.s_addr;
	c->local_port = ntohs(si->local.sin_port);
	c->peer_port = ntohs(si->peer.sin_port);
	c->type = si->type;
	c->state = si->state;
	name = si->state < 0 ? "UDP" : stack_tcp_state_name(si->state);
	snprintf(c->state_name, sizeof(c->state_name), "%s", name);
	c->snd_queue = si->snd_queue;
	c->rcv_queue = si->rcv_queue;
	c->cwnd = si->cwnd;
	c->ssthresh = si->ssthresh;
	c->srtt_us = si->srtt_us;
	c->rto_us = si->rto_us;
	c->mss = si->mss;
	c->retransmits = si->retransmits;
}

void rt_shm_update_conns(struct rt_shm *sh, struct stack *st, uint64_t now)
{
	struct conn_fill f = { .sh = sh };
	if (!sh->hdr)
		return;
	seq_begin(sh->hdr);
	stack_foreach_sock(st, conn_one, &f);
	sh->hdr->nconns = f.n;
	sh->hdr->conns_update_ns = now;
	seq_end(sh->hdr);
}

void rt_shm_forget(struct rt_shm *sh)
{
	if (sh->hdr)
		munmap(sh->hdr, sh->size);
	sh->hdr = NULL;
}

void rt_shm_destroy(struct rt_shm *sh)
{
	if (!sh->hdr)
		return;
	rt_shm_forget(sh);
	unlink(sh->path);
}
