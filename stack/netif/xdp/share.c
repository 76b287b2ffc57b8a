/* One steering program per interface, shared by the processes on it.
 *
 * The first process loads steer.bpf.c and attaches it with a bpf_link;
 * every later one finds that link (by the program attached to the
 * interface) and holds its own fd to it. The kernel detaches the program
 * when the last fd closes: the last process to leave removes it, whether
 * it exits, crashes or is killed, and whatever privileges it dropped.
 * Nothing is pinned, so nothing outlives the processes and no bpffs is
 * needed. Loading or joining happens under a lock file per interface, so
 * two processes starting at once do not both load.
 *
 * Each process holds one receive queue, locked by a file per queue
 * (flock: the kernel releases it when the process dies): `queue=N` takes
 * N, else the first free one. The map entries carry the queue (steer.bpf.c)
 * so a process removes only its own at exit, and a process taking a queue
 * first removes what a killed one left for it. DPDK's net_af_xdp then
 * creates the XDP socket on that queue; libxdp finds our program by its
 * name (xsk_def_prog) and inserts the socket at the queue's slot of
 * xsks_map; the kernel removes it when the socket closes. The driver's
 * netlink detach at close fails on the link, harmlessly.
 *
 * Starting needs, as root has them or as an administrator grants them to
 * a process that never had root (ambient capabilities): CAP_NET_RAW (the
 * AF_XDP socket), CAP_NET_ADMIN (attaching, the interface's flags),
 * CAP_SYS_ADMIN (the program, its link and maps by id: libxdp in the
 * driver looks the program up so too) and CAP_IPC_LOCK unless the memlock
 * limit is unlimited (the packet memory is pinned); and lock files it may
 * open (demi-run --prepare IF makes them for any user). Leaving needs none.
 * DPDK 22.11's driver takes no socket made by another process, so there is
 * no way without CAP_NET_RAW. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <linux/if_link.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "share.h"

/* The object (steer.bpf.c), linked in as bytes (the Makefile's steer_obj.o). */
extern const char demi_xdp_steer_obj[], demi_xdp_steer_obj_end[];

#define PROG_NAME "xsk_def_prog"
#define QUEUES 64

/* As steer.bpf.c has them, network byte order. */
struct port_key {
	uint16_t port, queue;
};
struct flow_key {
	uint32_t laddr, raddr;
	uint16_t lport, rport;
};

static int why_set(char *why, size_t n, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int why_set(char *why, size_t n, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return rc;
}

/* The capabilities starting needs that this process lacks, as one line:
 * 0, or -EPERM with the reason in why. */
static int caps_check(char *why, size_t n)
{
	static const struct { int cap; const char *name; } need[] = {
		{ CAP_NET_RAW, "CAP_NET_RAW (an AF_XDP socket needs it)" },
		{ CAP_NET_ADMIN, "CAP_NET_ADMIN" },
		{ CAP_SYS_ADMIN, "CAP_SYS_ADMIN" },
		{ CAP_IPC_LOCK, "CAP_IPC_LOCK" },
	};
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	char list[160];
	struct rlimit ml;
	size_t u = 0;

	if (syscall(SYS_capget, &h, d) != 0)
		return 0; /* the steps themselves will say */
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]) && u < sizeof(list); i++) {
		int c = need[i].cap;
		if (d[c / 32].effective & (1u << (c % 32)))
			continue;
		if (c == CAP_IPC_LOCK && getrlimit(RLIMIT_MEMLOCK, &ml) == 0 && ml.rlim_cur == RLIM_INFINITY)
			continue;
		u += (size_t)snprintf(list + u, sizeof(list) - u, "%s%s", u ? ", " : "", need[i].name);
	}
	if (!u)
		return 0;
	return why_set(why, n, -EPERM, "this process lacks %s: run as root or grant them (ambient capabilities)", list);
}

/* The lock file, made if absent (mode 0644: flock needs only read access). */
static int lock_open(const char *iface, int queue, char *why, size_t n)
{
	char path[128];
	int fd;

	if (mkdir(XDP_LOCK_DIR, 0755) != 0 && errno != EEXIST && errno != EACCES)
		return why_set(why, n, -errno, "cannot make %s: %s", XDP_LOCK_DIR, strerror(errno));
	xdp_lock_path(path, sizeof(path), iface, queue);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 && (errno == EACCES || errno == EPERM || errno == EROFS))
		fd = open(path, O_RDONLY | O_CLOEXEC); /* flock needs no write access */
	if (fd < 0 && errno == ENOENT)
		return why_set(why, n, -EACCES, "%s was not prepared for this user (no %s): run `demi-run --prepare %s` as root",
			       iface, path, iface);
	if (fd < 0)
		return why_set(why, n, -errno, "cannot open %s: %s", path, strerror(errno));
	return fd;
}

/* The maps of the program behind pfd, by name. */
static int maps_of(struct xdp_share *s, int pfd)
{
	struct bpf_prog_info pi;
	__u32 ids[16], len = sizeof(pi);

	memset(&pi, 0, sizeof(pi));
	pi.nr_map_ids = 16;
	pi.map_ids = (__u64)(uintptr_t)ids;
	if (bpf_obj_get_info_by_fd(pfd, &pi, &len) != 0)
		return -errno;
	for (__u32 i = 0; i < pi.nr_map_ids && i < 16; i++) {
		struct bpf_map_info mi;
		__u32 ml = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(ids[i]), *slot = NULL;
		if (fd < 0)
			return -errno;
		memset(&mi, 0, sizeof(mi));
		if (bpf_obj_get_info_by_fd(fd, &mi, &ml) == 0)
			slot = !strcmp(mi.name, "listen_ports") ? &s->map_listen :
			       !strcmp(mi.name, "udp_ports")    ? &s->map_udp :
			       !strcmp(mi.name, "flows")        ? &s->map_flows :
			       !strcmp(mi.name, "owners")       ? &s->map_owners : NULL;
		if (slot && *slot < 0)
			*slot = fd;
		else
			close(fd);
	}
	return s->map_listen >= 0 && s->map_udp >= 0 && s->map_flows >= 0 && s->map_owners >= 0 ? 0 : -ENOENT;
}

int xdp_share_is_ours(int pfd)
{
	struct xdp_share t = XDP_SHARE_INIT;
	struct bpf_prog_info pi;
	__u32 len = sizeof(pi);
	int ours;

	memset(&pi, 0, sizeof(pi));
	if (bpf_obj_get_info_by_fd(pfd, &pi, &len) != 0 || strcmp(pi.name, PROG_NAME))
		return 0;
	ours = maps_of(&t, pfd) == 0;
	xdp_share_close(&t);
	return ours;
}

static void maps_close(struct xdp_share *s)
{
	int *fds[] = { &s->map_listen, &s->map_udp, &s->map_flows, &s->map_owners, &s->link_fd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

/* The link that holds program prog_id on ifindex, as a new fd. */
static int link_find(__u32 prog_id, unsigned ifindex)
{
	__u32 id = 0;

	while (bpf_link_get_next_id(id, &id) == 0) {
		struct bpf_link_info li;
		__u32 len = sizeof(li);
		int fd = bpf_link_get_fd_by_id(id);
		if (fd < 0)
			continue;
		memset(&li, 0, sizeof(li));
		if (bpf_obj_get_info_by_fd(fd, &li, &len) == 0 && li.type == BPF_LINK_TYPE_XDP &&
		    li.prog_id == prog_id && li.xdp.ifindex == ifindex)
			return fd;
		close(fd);
	}
	return -ENOENT;
}

/* Load the object and attach it to ifindex by a link: the first process. */
static int prog_load(struct xdp_share *s, unsigned ifindex, const char *iface, char *why, size_t n)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "demi_steer");
	struct bpf_object *obj;
	struct bpf_program *prog;
	int rc;

	obj = bpf_object__open_mem(demi_xdp_steer_obj, (size_t)(demi_xdp_steer_obj_end - demi_xdp_steer_obj), &oo);
	if (!obj)
		return why_set(why, n, -errno, "cannot open the XDP program: %s", strerror(errno));
	if ((rc = bpf_object__load(obj)) != 0) {
		bpf_object__close(obj);
		return why_set(why, n, rc, "cannot load the XDP program: %s%s", strerror(-rc),
			       rc == -EPERM ? " (CAP_BPF and CAP_NET_ADMIN needed)" : "");
	}
	prog = bpf_object__find_program_by_name(obj, PROG_NAME);
	s->link_fd = prog ? bpf_link_create(bpf_program__fd(prog), (int)ifindex, BPF_XDP, NULL) : -ENOENT;
	if (s->link_fd < 0) {
		rc = s->link_fd == -ENOENT ? -ENOENT : -errno;
		s->link_fd = -1;
		bpf_object__close(obj);
		return why_set(why, n, rc, "cannot attach the XDP program to %s: %s", iface, strerror(-rc));
	}
	rc = maps_of(s, bpf_program__fd(prog));
	bpf_object__close(obj); /* the link holds the program, our fds the maps */
	return rc ? why_set(why, n, rc, "the XDP program's maps: %s", strerror(-rc)) : 0;
}

/* Join the program attached to ifindex if it is ours; load it if none. */
static int prog_get(struct xdp_share *s, unsigned ifindex, const char *iface, char *why, size_t n)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	__u32 id;
	int pfd, rc;

	if (bpf_xdp_query((int)ifindex, 0, &q) != 0)
		return why_set(why, n, -errno, "cannot query %s's XDP program: %s", iface, strerror(errno));
	id = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id ? q.skb_prog_id : q.hw_prog_id;
	if (!id)
		return prog_load(s, ifindex, iface, why, n);
	if ((pfd = bpf_prog_get_fd_by_id(id)) < 0)
		return why_set(why, n, -errno, "XDP program %u on %s: %s", id, iface, strerror(errno));
	if (!xdp_share_is_ours(pfd)) {
		close(pfd);
		return why_set(why, n, -EBUSY, "%s has another XDP program attached (id %u)", iface, id);
	}
	if ((s->link_fd = link_find(id, ifindex)) < 0) {
		close(pfd);
		s->link_fd = -1;
		return why_set(why, n, -EBUSY, "%s: our XDP program (id %u) is attached without a link", iface, id);
	}
	rc = maps_of(s, pfd);
	close(pfd);
	return rc ? why_set(why, n, rc, "the XDP program's maps: %s", strerror(-rc)) : 0;
}

/* Delete the entries of queue q (what this process, or a killed one
 * before it on q, steered). Keys first, deletions after: deleting while
 * walking a hash map would restart the walk. */
static void entries_clear(struct xdp_share *s, uint16_t q)
{
	int maps[2] = { s->map_listen, s->map_udp };
	struct flow_key *fk;
	size_t nf = 0;

	for (int m = 0; m < 2; m++) {
		struct port_key k, next, *prev = NULL, del[1024];
		size_t nd = 0;
		if (maps[m] < 0)
			continue;
		while (bpf_map_get_next_key(maps[m], prev, &next) == 0 && nd < 1024) {
			if (next.queue == q)
				del[nd++] = next;
			k = next;
			prev = &k;
		}
		for (size_t i = 0; i < nd; i++)
			bpf_map_delete_elem(maps[m], &del[i]);
	}
	if (s->map_flows < 0 || !(fk = malloc(65536 * sizeof(*fk))))
		return;
	{
		struct flow_key k, next, *prev = NULL;
		uint32_t v;
		while (bpf_map_get_next_key(s->map_flows, prev, &next) == 0 && nf < 65536) {
			if (bpf_map_lookup_elem(s->map_flows, &next, &v) == 0 && v == q)
				fk[nf++] = next;
			k = next;
			prev = &k;
		}
	}
	for (size_t i = 0; i < nf; i++)
		bpf_map_delete_elem(s->map_flows, &fk[i]);
	free(fk);
}

/* The pid on queue q, from the owners map (0: none known). */
static uint32_t owner_of(struct xdp_share *s, int q)
{
	uint32_t k = (uint32_t)q, pid = 0;
	if (s->map_owners >= 0)
		bpf_map_lookup_elem(s->map_owners, &k, &pid);
	return pid;
}

/* Take queue want, or the first free one: its lock file, held till exit. */
static int queue_take(struct xdp_share *s, const char *iface, int want, char *why, size_t n)
{
	int nq = xdp_queue_count(iface), fd;

	if (nq > QUEUES)
		nq = QUEUES;
	for (int q = want >= 0 ? want : 0; q < (want >= 0 ? want + 1 : nq); q++) {
		if ((fd = lock_open(iface, q, why, n)) < 0)
			return fd;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			s->lock_fd = fd;
			s->queue = q;
			return 0;
		}
		close(fd);
	}
	if (want >= 0)
		return why_set(why, n, -EBUSY, "queue %d of %s is taken by another process (pid %u)", want, iface,
			       owner_of(s, want));
	return why_set(why, n, -EBUSY, "%s has %d queue%s, all taken by other processes (one queue each)", iface, nq,
		       nq == 1 ? "" : "s");
}

int xdp_share_open(struct xdp_share *s, const char *iface, int want, char *why, size_t n)
{
	unsigned ifindex = if_nametoindex(iface);
	int ifl, rc;
	uint32_t k, pid = (uint32_t)getpid();

	if (!ifindex)
		return why_set(why, n, -ENODEV, "no interface %s", iface);
	if ((rc = caps_check(why, n)) != 0)
		return rc;
	if ((ifl = lock_open(iface, -1, why, n)) < 0)
		return ifl;
	flock(ifl, LOCK_EX);
	rc = prog_get(s, ifindex, iface, why, n);
	if (!rc)
		rc = queue_take(s, iface, want, why, n);
	if (!rc) {
		entries_clear(s, (uint16_t)s->queue);
		k = (uint32_t)s->queue;
		bpf_map_update_elem(s->map_owners, &k, &pid, BPF_ANY);
	}
	close(ifl);
	if (rc) {
		maps_close(s);
		if (s->lock_fd >= 0)
			close(s->lock_fd);
		s->lock_fd = s->queue = -1;
	}
	return rc;
}

void xdp_share_close(struct xdp_share *s)
{
	if (s->queue >= 0) {
		uint32_t k = (uint32_t)s->queue, none = 0;
		entries_clear(s, (uint16_t)s->queue);
		if (s->map_owners >= 0)
			bpf_map_update_elem(s->map_owners, &k, &none, BPF_ANY);
	}
	maps_close(s);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	s->lock_fd = s->queue = -1;
}

int xdp_share_steer(struct xdp_share *s, uint8_t proto, uint32_t laddr, uint16_t lport, uint32_t raddr,
		    uint16_t rport, int on)
{
	struct port_key pk = { htons(lport), (uint16_t)s->queue };
	struct flow_key fk = { htonl(laddr), htonl(raddr), htons(lport), htons(rport) };
	uint32_t q = (uint32_t)s->queue;
	uint8_t one = 1;
	const void *key = &pk, *val = &one;
	int fd, rc;

	if (s->queue < 0)
		return -ENODEV;
	if (raddr) {
		if (proto != IPPROTO_TCP)
			return 0;
		fd = s->map_flows;
		key = &fk;
		val = &q;
	} else {
		fd = proto == IPPROTO_TCP ? s->map_listen : s->map_udp;
	}
	rc = on ? bpf_map_update_elem(fd, key, val, BPF_ANY) : bpf_map_delete_elem(fd, key);
	return rc == -ENOENT && !on ? 0 : rc;
}
