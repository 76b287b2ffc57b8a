/* The per-fd record behind `demistat --fds PID`: for each socket fd, which
 * side serves it and the rule or reason why (demi/shm.h, demi_fd_rec).
 * Only a process with a bypass configuration publishes one; the file is
 * sparse, a record costs a few stores when the shim installs, decides or
 * forgets a socket, and a forked child publishes its own under its pid. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "demi/shm.h"
#include "shim.h"

#define FDREC_MAX 65536 /* fd numbers covered: 4 MiB of address space, sparse */

static struct demi_fds_hdr *fdrec_hdr;
static struct demi_fd_rec *fdrec_recs;
static pid_t fdrec_owner;
static char fdrec_path[128];
static pthread_mutex_t fdrec_mu = PTHREAD_MUTEX_INITIALIZER;

static void fdrec_unlink(void)
{
	if (fdrec_hdr && fdrec_owner == getpid())
		unlink(fdrec_path);
}

/* Map a fresh file for this pid; 0 or -1 (then nothing is published). */
static int fdrec_open(void)
{
	size_t size = sizeof(struct demi_fds_hdr) + (size_t)FDREC_MAX * sizeof(struct demi_fd_rec);
	static int atexit_done;
	void *map;
	int fd;

	/* a process that never starts a stack still clears what dead ones left */
	demi_shm_reclaim(DEMI_SHM_DIR);
	snprintf(fdrec_path, sizeof(fdrec_path), "%s/" DEMI_SHM_PREFIX "%d." DEMI_FDS_SUFFIX, DEMI_SHM_DIR,
		 (int)getpid());
	fd = open(fdrec_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)size) != 0) {
		REAL(close)(fd);
		unlink(fdrec_path);
		return -1;
	}
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	REAL(close)(fd);
	if (map == MAP_FAILED) {
		unlink(fdrec_path);
		return -1;
	}
	fdrec_hdr = map;
	fdrec_recs = (struct demi_fd_rec *)(fdrec_hdr + 1);
	fdrec_hdr->hdr_size = sizeof(*fdrec_hdr);
	fdrec_hdr->rec_size = sizeof(struct demi_fd_rec);
	fdrec_hdr->pid = (int32_t)getpid();
	fdrec_hdr->nrecs = FDREC_MAX;
	snprintf(fdrec_hdr->config, sizeof(fdrec_hdr->config), "%s", cfg.path);
	fdrec_hdr->version = DEMI_FDS_VERSION;
	__atomic_store_n(&fdrec_hdr->magic, DEMI_FDS_MAGIC, __ATOMIC_RELEASE);
	fdrec_owner = getpid();
	if (!atexit_done++)
		atexit(fdrec_unlink);
	return 0;
}

static void fdrec_write(int fd, const struct fobj *o)
{
	struct demi_fd_rec *r = &fdrec_recs[fd];
	const struct ssock *ss = o && o->kind == FOBJ_SOCK ? (const struct ssock *)o : NULL;

	__atomic_store_n(&r->seq, r->seq + 1, __ATOMIC_RELAXED); /* odd: being written */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memset((char *)r + sizeof(r->seq), 0, sizeof(*r) - sizeof(r->seq));
	if (o && o->kind == FOBJ_EPOLL) {
		r->state = DEMI_FD_EPOLL;
		snprintf(r->reason, sizeof(r->reason), "epoll set");
	} else if (ss) {
		r->state = ss->state == SS_BYPASS ? DEMI_FD_STACK
			 : ss->state == SS_CANDIDATE ? DEMI_FD_CANDIDATE : DEMI_FD_KERNEL;
		r->why = (uint8_t)ss->why;
		r->listening = (uint8_t)ss->listening;
		r->type = (uint8_t)ss->type;
		r->domain = (uint16_t)ss->domain;
		if (ss->bound) {
			r->local_port = ntohs(ss->local.sin.sin_port);
			if (ss->local.sa.sa_family == AF_INET)
				r->local_addr = ss->local.sin.sin_addr.s_addr;
		}
		snprintf(r->reason, sizeof(r->reason), "%s",
			 ss->state == SS_CANDIDATE ? "not decided until bind, listen or connect"
						   : ss_reason_str(ss->why));
	}
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&r->seq, r->seq + 1, __ATOMIC_RELEASE);
}

void fdrec_put(int fd, const struct fobj *o)
{
	if (!cfg.active || fd < 0 || fd >= FDREC_MAX)
		return;
	if (!fdrec_hdr || fdrec_owner != getpid()) {
		pthread_mutex_lock(&fdrec_mu);
		if ((!fdrec_hdr || fdrec_owner != getpid()) && fdrec_open() != 0) {
			pthread_mutex_unlock(&fdrec_mu);
			return;
		}
		pthread_mutex_unlock(&fdrec_mu);
	}
	fdrec_write(fd, o);
}

static void fdrec_refill(int fd, struct fobj *o, void *arg)
{
	(void)arg;
	fdrec_put(fd, o);
}

/* In a forked child: the parent's mapping is shared with the parent, so
 * publish a file of our own with every fd we inherited. */
void fdrec_atfork_child(void)
{
	pthread_mutex_init(&fdrec_mu, NULL);
	if (!fdrec_hdr)
		return;
	munmap(fdrec_hdr, sizeof(struct demi_fds_hdr) + (size_t)FDREC_MAX * sizeof(struct demi_fd_rec));
	fdrec_hdr = NULL;
	fdrec_recs = NULL;
	fdtab_foreach(fdrec_refill, NULL);
}
