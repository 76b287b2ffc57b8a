/* demistat: the live state of programs running under libdemi, read from the
 * counters each stack instance publishes in shared memory (demi/shm.h) and
 * the shim's per-fd record (demi/shm.h, DEMI_FDS_*). It never attaches to
 * the program.
 *
 *   demistat                   processes under libdemi
 *   demistat [-c] [-w S] PID   counters of each instance (-c: connections);
 *                              for an xdp: device, its XDP program, the
 *                              program's map entries and per-queue counts
 *   demistat --fds PID         each socket fd: kernel or stack, and why */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <net/if.h>
#include <sched.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "demi/shm.h"

/* One consistent copy of an instance's file. */
struct snap {
	struct demi_shm_hdr h;
	char (*names)[DEMI_SHM_NAME_LEN];
	uint64_t *values;
	struct demi_shm_conn *conns;
	unsigned instance;
	char path[300];
};

static void snap_free(struct snap *s)
{
	free(s->names);
	free(s->values);
	free(s->conns);
	memset(s, 0, sizeof(*s));
}

static int pid_alive(int pid)
{
	return kill(pid, 0) == 0 || errno == EPERM;
}

/* Copy the file at path under the writer's sequence lock. 0, or -1 with a
 * message in err. */
static int snap_read(const char *path, struct snap *s, char *err, size_t errlen)
{
	struct stat sb;
	const uint8_t *base;
	const struct demi_shm_hdr *h;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;

	memset(s, 0, sizeof(*s));
	snprintf(s->path, sizeof(s->path), "%s", path);
	if (fd < 0 || fstat(fd, &sb) < 0 || (size_t)sb.st_size < sizeof(struct demi_shm_hdr)) {
		snprintf(err, errlen, "%s: %s", path, fd < 0 ? strerror(errno) : "too short");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	base = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (base == MAP_FAILED) {
		snprintf(err, errlen, "%s: mmap: %s", path, strerror(errno));
		return -1;
	}
	h = (const struct demi_shm_hdr *)base;
	if (h->magic != DEMI_SHM_MAGIC || h->version < 1 || h->total_size > (uint64_t)sb.st_size ||
	    h->hdr_size < sizeof(struct demi_shm_hdr) ||
	    (uint64_t)h->names_off + (uint64_t)h->ncounters * DEMI_SHM_NAME_LEN > h->total_size ||
	    (uint64_t)h->values_off + (uint64_t)h->ncounters * 8 > h->total_size ||
	    (uint64_t)h->conns_off + (uint64_t)h->conns_max * h->conn_size > h->total_size ||
	    h->conn_size < sizeof(struct demi_shm_conn)) {
		snprintf(err, errlen, "%s: not a libdemi counters file of a known version", path);
		goto out;
	}
	s->names = calloc(h->ncounters ? h->ncounters : 1, DEMI_SHM_NAME_LEN);
	s->values = calloc(h->ncounters ? h->ncounters : 1, sizeof(uint64_t));
	s->conns = calloc(h->conns_max ? h->conns_max : 1, sizeof(struct demi_shm_conn));
	if (!s->names || !s->values || !s->conns) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (int tries = 0; tries < 1000; tries++) {
		const _Atomic uint64_t *seqp = (const _Atomic uint64_t *)&h->seq;
		uint64_t seq = atomic_load(seqp);
		if (seq & 1)
			continue;
		memcpy(&s->h, h, sizeof(s->h));
		memcpy(s->names, base + h->names_off, (size_t)h->ncounters * DEMI_SHM_NAME_LEN);
		memcpy(s->values, base + h->values_off, (size_t)h->ncounters * 8);
		for (uint32_t i = 0; i < h->nconns && i < h->conns_max; i++)
			memcpy(&s->conns[i], base + h->conns_off + (size_t)i * h->conn_size, sizeof(s->conns[i]));
		if (atomic_load(seqp) == seq) {
			if (s->h.nconns > s->h.conns_max)
				s->h.nconns = s->h.conns_max;
			for (uint32_t i = 0; i < s->h.ncounters; i++)
				s->names[i][DEMI_SHM_NAME_LEN - 1] = 0;
			s->h.program[sizeof(s->h.program) - 1] = 0;
			s->h.device[sizeof(s->h.device) - 1] = 0;
			rc = 0;
			goto out;
		}
	}
	snprintf(err, errlen, "%s: the writer never left the file consistent", path);
out:
	munmap((void *)base, (size_t)sb.st_size);
	if (rc)
		snap_free(s);
	return rc;
}

/* Counters files of pid (every pid when pid <= 0), sorted by name. */
static int list_files(int pid, char ***out)
{
	DIR *d = opendir(DEMI_SHM_DIR);
	struct dirent *e;
	char **v = NULL;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		int p;
		unsigned inst;
		char tail;
		if (sscanf(e->d_name, DEMI_SHM_PREFIX "%d.%u%c", &p, &inst, &tail) != 2)
			continue;
		if (pid > 0 && p != pid)
			continue;
		char **nv = realloc(v, (size_t)(n + 1) * sizeof(*v));
		if (!nv)
			break;
		v = nv;
		if (asprintf(&v[n], "%s/%s", DEMI_SHM_DIR, e->d_name) < 0)
			break;
		n++;
	}
	closedir(d);
	for (int i = 1; i < n; i++) /* insertion sort: a handful of files */
		for (int j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
			char *t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	*out = v;
	return n;
}

static void free_files(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static const char *ip4(uint32_t be, char *buf)
{
	struct in_addr a = { .s_addr = be };
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

static uint64_t counter(const struct snap *s, const char *name)
{
	for (uint32_t i = 0; i < s->h.ncounters; i++)
		if (!strcmp(s->names[i], name))
			return s->values[i];
	return 0;
}

static int cmd_list(void)
{
	char **files, err[400];
	int n = list_files(0, &files), shown = 0;

	printf("%-8s %-16s %-4s %-28s %-18s %s\n", "PID", "PROGRAM", "INST", "DEVICE", "ADDRESS", "CONNS");
	for (int i = 0; i < n; i++) {
		struct snap s;
		char a[INET_ADDRSTRLEN], addr[40];
		if (snap_read(files[i], &s, err, sizeof(err)) != 0)
			continue;
		if (!pid_alive(s.h.pid)) { /* left by a process that died: not running */
			snap_free(&s);
			continue;
		}
		snprintf(addr, sizeof(addr), "%s/%u", ip4(s.h.addr, a), s.h.prefix_len);
		printf("%-8d %-16s %-4u %-28s %-18s %u\n", s.h.pid, s.h.program, s.h.instance, s.h.device, addr,
		       s.h.nconns);
		shown++;
		snap_free(&s);
	}
	free_files(files, n);
	if (!shown)
		printf("(no process is running under libdemi with a started stack)\n");
	return 0;
}

static int is_drop(const char *name)
{
	return strstr(name, "DROP") != NULL;
}

static void print_instance(const struct snap *s, int show_conns)
{
	char a[INET_ADDRSTRLEN];
	static const char *const states[] = { "ESTABLISHED", "SYN_SENT", "SYN_RECEIVED", "LISTEN", "FIN_WAIT_1",
					      "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT" };
	unsigned by_state[sizeof(states) / sizeof(states[0])] = { 0 }, udp = 0;

	printf("pid %d (%s) instance %u: %s, %s/%u, mac %02x:%02x:%02x:%02x:%02x:%02x, mtu %u, link %s\n",
	       s->h.pid, s->h.program, s->h.instance, s->h.device, ip4(s->h.addr, a), s->h.prefix_len,
	       s->h.mac[0], s->h.mac[1], s->h.mac[2], s->h.mac[3], s->h.mac[4], s->h.mac[5], s->h.mtu,
	       s->h.link_up ? "up" : "down");
	printf("  rx %llu packets %llu bytes, tx %llu packets %llu bytes\n",
	       (unsigned long long)counter(s, "RX_FRAMES"), (unsigned long long)counter(s, "RX_BYTES"),
	       (unsigned long long)counter(s, "TX_FRAMES"), (unsigned long long)counter(s, "TX_BYTES"));
	for (uint32_t i = 0; i < s->h.nconns; i++) {
		if (s->conns[i].type == SOCK_DGRAM) {
			udp++;
			continue;
		}
		for (size_t k = 0; k < sizeof(states) / sizeof(states[0]); k++)
			if (!strcmp(s->conns[i].state_name, states[k]))
				by_state[k]++;
	}
	printf("  packet buffers: %llu in use of %llu\n", (unsigned long long)counter(s, "RT_POOL_IN_USE"),
	       (unsigned long long)counter(s, "RT_POOL_CAPACITY"));
	printf("  connections:");
	for (size_t k = 0; k < sizeof(states) / sizeof(states[0]); k++)
		if (by_state[k])
			printf(" %s %u", states[k], by_state[k]);
	printf(" udp %u%s\n", udp, s->h.nconns == s->h.conns_max ? " (table full: more not shown)" : "");
	printf("  drops:\n");
	for (uint32_t i = 0; i < s->h.ncounters; i++)
		if (is_drop(s->names[i]) && s->values[i])
			printf("    %-40s %llu\n", s->names[i], (unsigned long long)s->values[i]);
	printf("  counters:\n");
	for (uint32_t i = 0; i < s->h.ncounters; i++)
		if (!is_drop(s->names[i]) && s->values[i])
			printf("    %-40s %llu\n", s->names[i], (unsigned long long)s->values[i]);
	if (!show_conns)
		return;
	printf("  %-21s %-21s %-12s %8s %8s %8s %8s %6s\n", "LOCAL", "PEER", "STATE", "SNDQ", "RCVQ", "CWND",
	       "SRTT_US", "RETX");
	for (uint32_t i = 0; i < s->h.nconns; i++) {
		const struct demi_shm_conn *c = &s->conns[i];
		char l[40], p[40], b1[INET_ADDRSTRLEN], b2[INET_ADDRSTRLEN];
		snprintf(l, sizeof(l), "%s:%u", ip4(c->local_addr, b1), c->local_port);
		snprintf(p, sizeof(p), "%s:%u", ip4(c->peer_addr, b2), c->peer_port);
		printf("  %-21s %-21s %-12s %8u %8u %8u %8u %6u\n", l, p,
		       c->type == SOCK_DGRAM ? "UDP" : c->state_name, c->snd_queue, c->rcv_queue, c->cwnd,
		       c->srtt_us, c->retransmits);
	}
}

/* ---- an xdp: device: its program, read with libbpf in the process's
 * network namespace (root needed) ---- */

struct steer_flow_key {
	uint32_t laddr, raddr;
	uint16_t lport, rport;
};

struct steer_port_key {
	uint16_t port, queue;
};

struct steer_stats {
	uint64_t redirected, passed, misqueued;
};

/* Enter the network namespace of pid (where its interface is), once. */
static int netns_enter(int pid)
{
	static int entered;
	char path[64];
	struct stat a, b;
	int fd;

	if (entered)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	if (stat(path, &a) != 0)
		return -errno;
	if (stat("/proc/self/ns/net", &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
		entered = 1;
		return 0;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET) != 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	close(fd);
	entered = 1;
	return 0;
}

static void print_ports(int fd, const char *what)
{
	struct steer_port_key key, next, *prev = NULL;
	int n = 0;

	printf("    %s (port/queue):", what);
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		printf(" %u/%u", ntohs(next.port), next.queue);
		key = next;
		prev = &key;
		n++;
	}
	printf("%s\n", n ? "" : " none");
}

static void print_flows(int fd)
{
	struct steer_flow_key key, next, *prev = NULL;
	uint32_t q;
	int n = 0;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		char l[INET_ADDRSTRLEN], r[INET_ADDRSTRLEN];
		if (!n++)
			printf("    flows (connections the stack opened):\n");
		if (bpf_map_lookup_elem(fd, &next, &q) != 0)
			q = 0;
		printf("      %s:%u <- %s:%u queue %u\n", ip4(next.laddr, l), ntohs(next.lport), ip4(next.raddr, r),
		       ntohs(next.rport), q);
		key = next;
		prev = &key;
	}
	if (!n)
		printf("    flows (connections the stack opened): none\n");
}

/* Per queue: the process on it (owners) and the program's counts. */
static void print_queues(int stats_fd, int owners_fd)
{
	int ncpu = libbpf_num_possible_cpus();
	struct steer_stats *v;

	if (ncpu <= 0 || !(v = calloc((size_t)ncpu, sizeof(*v))))
		return;
	for (uint32_t q = 0; q < 64; q++) {
		uint64_t red = 0, pass = 0, mis = 0;
		uint32_t pid = 0;
		if (stats_fd < 0 || bpf_map_lookup_elem(stats_fd, &q, v) != 0)
			break;
		if (owners_fd >= 0)
			bpf_map_lookup_elem(owners_fd, &q, &pid);
		for (int c = 0; c < ncpu; c++) {
			red += v[c].redirected;
			pass += v[c].passed;
			mis += v[c].misqueued;
		}
		if (!red && !pass && !mis && !pid)
			continue;
		printf("    queue %u: ", q);
		if (pid)
			printf("pid %u%s, ", pid, kill((pid_t)pid, 0) != 0 && errno == ESRCH ? " (gone)" : "");
		else
			printf("no process, ");
		printf("redirected %llu, passed %llu, misqueued %llu\n", (unsigned long long)red,
		       (unsigned long long)pass, (unsigned long long)mis);
	}
	free(v);
}

static void print_xdp(const struct snap *s)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	char ifname[IF_NAMESIZE + 1];
	struct bpf_prog_info pi;
	__u32 map_ids[16], len = sizeof(pi), id;
	unsigned idx;
	int rc, pfd;

	if (strncmp(s->h.device, "xdp:", 4) != 0)
		return;
	snprintf(ifname, sizeof(ifname), "%.*s", (int)strcspn(s->h.device + 4, ","), s->h.device + 4);
	if ((rc = netns_enter((int)s->h.pid)) != 0) {
		printf("  xdp: the program on %s cannot be read: %s (root needed)\n", ifname, strerror(-rc));
		return;
	}
	if (!(idx = if_nametoindex(ifname)) || bpf_xdp_query((int)idx, 0, &q) != 0) {
		printf("  xdp: %s: %s\n", ifname, idx ? strerror(errno) : "no such interface");
		return;
	}
	id = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id ? q.skb_prog_id : q.hw_prog_id;
	if (!id) {
		printf("  xdp: no program on %s\n", ifname);
		return;
	}
	if ((pfd = bpf_prog_get_fd_by_id(id)) < 0) {
		printf("  xdp: program id %u on %s: %s\n", id, ifname, strerror(errno));
		return;
	}
	memset(&pi, 0, sizeof(pi));
	pi.nr_map_ids = 16;
	pi.map_ids = (__u64)(uintptr_t)map_ids;
	rc = bpf_obj_get_info_by_fd(pfd, &pi, &len);
	close(pfd);
	{
		int fds[5] = { -1, -1, -1, -1, -1 }; /* listen_ports udp_ports flows stats owners */
		const char *names[5] = { "listen_ports", "udp_ports", "flows", "stats", "owners" };
		for (__u32 i = 0; rc == 0 && i < pi.nr_map_ids && i < 16; i++) {
			struct bpf_map_info mi;
			__u32 ml = sizeof(mi);
			int fd = bpf_map_get_fd_by_id(map_ids[i]), used = 0;
			if (fd < 0)
				continue;
			memset(&mi, 0, sizeof(mi));
			if (bpf_obj_get_info_by_fd(fd, &mi, &ml) == 0)
				for (int k = 0; k < 5; k++)
					if (fds[k] < 0 && !strcmp(mi.name, names[k])) {
						fds[k] = fd;
						used = 1;
					}
			if (!used)
				close(fd);
		}
		/* ours: the name libxdp looks for (xsk_def_prog) and our maps */
		if (rc == 0 && !strcmp(pi.name, "xsk_def_prog") && fds[0] >= 0 && fds[4] >= 0) {
			printf("  xdp: program demi_steer id %u on %s (%s), shared by the processes on its queues\n", id,
			       ifname, q.drv_prog_id == id ? "native" : q.skb_prog_id == id ? "generic" : "offloaded");
			print_queues(fds[3], fds[4]);
			print_ports(fds[0], "listen ports");
			if (fds[1] >= 0)
				print_ports(fds[1], "udp ports");
			if (fds[2] >= 0)
				print_flows(fds[2]);
		} else {
			printf("  xdp: program %s id %u on %s (%s), not libdemi's\n", rc == 0 ? pi.name : "?", id, ifname,
			       q.drv_prog_id == id ? "native" : q.skb_prog_id == id ? "generic" : "offloaded");
		}
		for (int k = 0; k < 5; k++)
			if (fds[k] >= 0)
				close(fds[k]);
	}
}

static int cmd_show(int pid, int show_conns)
{
	char **files, err[400];
	int n = list_files(pid, &files), shown = 0;

	for (int i = 0; i < n; i++) {
		struct snap s;
		if (snap_read(files[i], &s, err, sizeof(err)) != 0) {
			fprintf(stderr, "demistat: %s\n", err);
			continue;
		}
		print_instance(&s, show_conns);
		if (!s.h.instance)
			print_xdp(&s);
		shown++;
		snap_free(&s);
	}
	free_files(files, n);
	if (!shown) {
		fprintf(stderr, "demistat: process %d has no libdemi stack running%s\n", pid,
			pid_alive(pid) ? "" : " (no such process)");
		return 1;
	}
	return 0;
}

/* --fds: every socket fd of the process (from /proc/PID/fd) with the
 * shim's record of where it went and why (demi/shm.h, DEMI_FDS_*). */
static const char *fd_family(unsigned d)
{
	return d == AF_INET ? "inet" : d == AF_INET6 ? "inet6" : d == AF_UNIX ? "unix" : d == AF_NETLINK ? "netlink"
	       : d ? "other" : "";
}

static const char *fd_type(unsigned t)
{
	return t == SOCK_STREAM ? "stream" : t == SOCK_DGRAM ? "dgram" : t ? "other" : "";
}

/* The family of a socket the shim holds no record of, from the inode
 * tables in /proc/PID/net: 0 when not found. */
static unsigned fd_family_of_inode(int pid, unsigned long ino)
{
	static const struct { const char *file; unsigned family; int col; } tabs[] = {
		{ "unix", AF_UNIX, 6 }, { "tcp", AF_INET, 9 }, { "udp", AF_INET, 9 },
		{ "tcp6", AF_INET6, 9 }, { "udp6", AF_INET6, 9 }, { "netlink", AF_NETLINK, 8 },
	};
	char path[64], line[512];
	for (size_t t = 0; t < sizeof(tabs) / sizeof(tabs[0]); t++) {
		FILE *f;
		snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, tabs[t].file);
		if (!(f = fopen(path, "r")))
			continue;
		while (fgets(line, sizeof(line), f)) {
			char *tok, *save = NULL;
			int col = 0;
			for (tok = strtok_r(line, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save), col++)
				if (col == tabs[t].col)
					break;
			if (tok && strtoul(tok, NULL, 10) == ino) {
				fclose(f);
				return tabs[t].family;
			}
		}
		fclose(f);
	}
	return 0;
}

static int cmd_fds(int pid)
{
	static const char *const side[] = { "?", "kernel", "pending", "stack", "epoll" };
	char path[300], link[300], err[64];
	const struct demi_fds_hdr *h = NULL;
	const struct demi_fd_rec *recs = NULL;
	struct dirent **ents;
	struct stat sb;
	size_t size = 0;
	int fd, n, shown = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	if ((n = scandir(path, &ents, NULL, versionsort)) < 0) {
		fprintf(stderr, "demistat: process %d: %s\n", pid, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/" DEMI_SHM_PREFIX "%d." DEMI_FDS_SUFFIX, DEMI_SHM_DIR, pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		if (fstat(fd, &sb) == 0 && (size_t)sb.st_size >= sizeof(*h)) {
			void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
			if (m != MAP_FAILED) {
				h = m;
				size = (size_t)sb.st_size;
				if (h->magic != DEMI_FDS_MAGIC || h->hdr_size < sizeof(*h) ||
				    h->rec_size < sizeof(struct demi_fd_rec) ||
				    h->hdr_size + (uint64_t)h->nrecs * h->rec_size > size) {
					munmap(m, size);
					h = NULL;
				} else {
					recs = (const struct demi_fd_rec *)((const char *)h + h->hdr_size);
				}
			}
		}
		close(fd);
	}
	if (h)
		printf("process %d, configuration %.*s\n", pid, (int)sizeof(h->config), h->config);
	else
		printf("process %d: no libdemi record (no bypass configuration, or not under libdemi): "
		       "every socket is the kernel's\n", pid);
	printf("%-5s %-8s %-7s %-7s %-22s %s\n", "FD", "SIDE", "FAMILY", "TYPE", "LOCAL", "WHY");
	for (int i = 0; i < n; i++) {
		ssize_t l;
		int nfd;
		if (ents[i]->d_name[0] == '.') {
			free(ents[i]);
			continue;
		}
		nfd = atoi(ents[i]->d_name);
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid, ents[i]->d_name);
		free(ents[i]);
		l = readlink(path, link, sizeof(link) - 1);
		if (l < 0)
			continue;
		link[l] = 0;
		if (strncmp(link, "socket:", 7) && strcmp(link, "anon_inode:[eventpoll]") &&
		    !(h && recs && (unsigned)nfd < h->nrecs && recs[nfd].state == DEMI_FD_STACK))
			continue;
		struct demi_fd_rec r = { 0 };
		if (h && (unsigned)nfd < h->nrecs) {
			for (int tries = 0; tries < 100; tries++) {
				uint32_t s0 = __atomic_load_n(&recs[nfd].seq, __ATOMIC_ACQUIRE);
				memcpy(&r, &recs[nfd], sizeof(r));
				if (!(s0 & 1) && __atomic_load_n(&recs[nfd].seq, __ATOMIC_ACQUIRE) == s0)
					break;
			}
			r.reason[sizeof(r.reason) - 1] = 0;
		}
		char local[32] = "";
		if (r.local_port || r.local_addr) {
			char a[INET_ADDRSTRLEN];
			snprintf(local, sizeof(local), "%s:%u%s", ip4(r.local_addr, a), r.local_port,
				 r.listening ? " L" : "");
		}
		if (r.state == DEMI_FD_NONE) {
			unsigned long ino = 0;
			sscanf(link, "socket:[%lu]", &ino);
			r.domain = (uint16_t)(ino ? fd_family_of_inode(pid, ino) : 0);
			snprintf(r.reason, sizeof(r.reason), "%s",
				 !h ? "no bypass configuration"
				 : r.domain && r.domain != AF_INET ? "kernel: not AF_INET (passed through)"
				 : "kernel: made before the shim saw it");
		}
		snprintf(err, sizeof(err), "%s", r.state < 5 ? side[r.state ? r.state : 1] : "?");
		printf("%-5d %-8s %-7s %-7s %-22s %s\n", nfd, err, fd_family(r.domain), fd_type(r.type), local, r.reason);
		shown++;
	}
	free(ents);
	if (h)
		munmap((void *)h, size);
	if (!shown)
		printf("(no socket fds)\n");
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: demistat                    processes running under libdemi\n"
		   "       demistat [-c] [-w SECONDS] PID  counters of each stack instance (-c: connections)\n"
		   "       demistat --fds PID              each socket fd: kernel or stack, and why\n");
}

static int parse_pid(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == 0 || *end || v <= 0 || v > 0x7fffffff)
		return -1;
	return (int)v;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "fds", no_argument, NULL, 'f' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	int opt, conns = 0, fds = 0, pid = 0;
	double wait_s = 0;

	while ((opt = getopt_long(argc, argv, "cw:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': conns = 1; break;
		case 'f': fds = 1; break;
		case 'w': {
			char *end;
			wait_s = strtod(optarg, &end);
			if (*end || wait_s <= 0) {
				fprintf(stderr, "demistat: -w needs a positive number of seconds\n");
				return 2;
			}
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind > 1 || (fds && argc - optind != 1)) {
		usage(stderr);
		return 2;
	}
	if (argc - optind == 1 && (pid = parse_pid(argv[optind])) < 0) {
		fprintf(stderr, "demistat: '%s' is not a process id\n", argv[optind]);
		return 2;
	}
	if (fds)
		return cmd_fds(pid);
	for (;;) {
		int rc = pid ? cmd_show(pid, conns) : cmd_list();
		if (wait_s <= 0 || rc)
			return rc;
		fflush(stdout);
		struct timespec ts = { (time_t)wait_s, (long)((wait_s - (double)(time_t)wait_s) * 1e9) };
		nanosleep(&ts, NULL);
		if (isatty(STDOUT_FILENO))
			printf("\033[H\033[2J"); /* a terminal shows the newest only */
		else
			printf("\n");
	}
}
