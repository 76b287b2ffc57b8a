/* Deterministic steering on a tap shared by several processes (the forked
 * workers of one program, each on its own queue): the programs of
 * tap/steer.bpf.c, installed once per tap by the first process, and the
 * announcements each process writes on its queue so that they know its
 * pid, its current queue and its listening ports.
 *
 * Installation needs no bpffs: the tc filter (clsact ingress, fixed handle
 * and priority) is the marker and the arbiter; a process that finds it
 * does nothing, and of two that race the one whose attach fails with
 * EEXIST stands back. The winner then sets the tun steering program from
 * its queue fd. The tap holds both programs, and they their maps: they
 * outlive every process and go with the tap (`ip link del`). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <linux/if_tun.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../dpdk.h"
#include "tap_ann.h"

#define TAP_TC_HANDLE 0xde71
#define TAP_TC_PRIO 1

extern const unsigned char demi_tap_steer_obj[], demi_tap_steer_obj_end[];

struct tap_steer {
	int qfd;
	int pi;       /* the queue's frames start with a struct tun_pi (net_tap's do) */
	uint32_t pid;
	uint8_t mac[6];
	uint16_t ports[TAP_ANN_PORTS]; /* host byte order */
	unsigned refs[TAP_ANN_PORTS];  /* listeners on each (one per address) */
};

static int quiet(enum libbpf_print_level l, const char *fmt, va_list ap)
{
	(void)l;
	(void)fmt;
	(void)ap;
	return 0;
}

/* 1: installed here, 0: found installed, -errno (why says). */
static int steer_install(const char *iface, int qfd, char *why, size_t whylen)
{
	int ifindex = (int)if_nametoindex(iface), fd, rc;
	struct bpf_object *obj;
	struct bpf_program *learn, *steer;
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, q, .handle = TAP_TC_HANDLE, .priority = TAP_TC_PRIO);

	if (!ifindex) {
		snprintf(why, whylen, "no interface %s", iface);
		return -ENODEV;
	}
	if (bpf_tc_query(&hook, &q) == 0)
		return 0;
	obj = bpf_object__open_mem(demi_tap_steer_obj, (size_t)(demi_tap_steer_obj_end - demi_tap_steer_obj), NULL);
	if (!obj) {
		snprintf(why, whylen, "cannot open the steering object");
		return -EINVAL;
	}
	if ((rc = bpf_object__load(obj)) != 0) {
		snprintf(why, whylen, "cannot load the steering programs: %s", strerror(-rc));
		goto out;
	}
	learn = bpf_object__find_program_by_name(obj, "tap_learn");
	steer = bpf_object__find_program_by_name(obj, "tap_steer");
	if ((rc = bpf_tc_hook_create(&hook)) != 0 && rc != -EEXIST) {
		snprintf(why, whylen, "no clsact qdisc: %s", strerror(-rc));
		goto out;
	}
	q.prog_fd = bpf_program__fd(learn);
	q.prog_id = 0;
	if ((rc = bpf_tc_attach(&hook, &q)) != 0) {
		if (rc == -EEXIST) /* another process was first */
			rc = 0;
		else
			snprintf(why, whylen, "cannot attach the tc program: %s", strerror(-rc));
		goto out;
	}
	fd = bpf_program__fd(steer);
	if (ioctl(qfd, TUNSETSTEERINGEBPF, &fd) != 0) {
		rc = -errno;
		snprintf(why, whylen, "TUNSETSTEERINGEBPF: %s", strerror(errno));
		q.prog_fd = 0;
		q.prog_id = 0;
		q.flags = 0;
		bpf_tc_detach(&hook, &q);
		goto out;
	}
	rc = 1;
out:
	bpf_object__close(obj); /* the tap holds the programs, they the maps */
	return rc;
}

/* The tap's frames start with a struct tun_pi (not IFF_NO_PI; net_tap's
 * do). From sysfs: TUNGETIFF gives IFF_NOFILTER in the same bit. */
static int tun_pi(const char *iface)
{
	char path[96];
	unsigned flags = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/tun_flags", iface);
	if (!(f = fopen(path, "re")))
		return 1;
	if (fscanf(f, "%x", &flags) != 1)
		flags = 0;
	fclose(f);
	return !(flags & IFF_NO_PI);
}

struct tap_steer *tap_steer_open(const char *iface, int qfd, const uint8_t mac[6], char *why, size_t whylen)
{
	libbpf_print_fn_t old = libbpf_set_print(quiet); /* EEXIST is the expected race */
	struct tap_steer *t;
	int rc;

	why[0] = 0;
	if (qfd < 0) {
		snprintf(why, whylen, "no queue fd");
		return NULL;
	}
	rc = steer_install(iface, qfd, why, whylen);
	libbpf_set_print(old);
	if (rc < 0 || !(t = calloc(1, sizeof(*t))))
		return NULL;
	t->qfd = qfd;
	t->pi = tun_pi(iface);
	t->pid = (uint32_t)getpid();
	memcpy(t->mac, mac, 6);
	if (rc > 0)
		snprintf(why, whylen, "steering programs installed");
	tap_steer_announce(t);
	return t;
}

static void announce(struct tap_steer *t, int gone)
{
	unsigned char buf[4 + 64], *f = buf + 4;
	struct tun_pi pi = { .proto = htons(TAP_ANN_ETHERTYPE) };
	size_t len = 14 + sizeof(struct tap_ann) < 60 ? 60 : 14 + sizeof(struct tap_ann);
	struct tap_ann a = { .magic = htonl(TAP_ANN_MAGIC), .pid = t->pid };
	unsigned i, n = 0;

	for (i = 0; i < TAP_ANN_PORTS; i++)
		if (t->refs[i])
			a.ports[n++] = htons(t->ports[i]);
	a.nports = gone ? TAP_ANN_GONE : (uint16_t)n;
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &pi, sizeof(pi));
	memset(f, 0xff, 6);
	memcpy(f + 6, t->mac, 6);
	f[12] = TAP_ANN_ETHERTYPE >> 8;
	f[13] = TAP_ANN_ETHERTYPE & 0xff;
	memcpy(f + 14, &a, sizeof(a));
	/* the raw call: the application's write() may be interposed */
	if (t->pi)
		(void)syscall(SYS_write, t->qfd, buf, sizeof(pi) + len);
	else
		(void)syscall(SYS_write, t->qfd, f, len);
}

void tap_steer_announce(struct tap_steer *t)
{
	if (t)
		announce(t, 0);
}

void tap_steer_port(struct tap_steer *t, uint16_t port, int on)
{
	unsigned i, free = TAP_ANN_PORTS;

	if (!t)
		return;
	for (i = 0; i < TAP_ANN_PORTS; i++) {
		if (t->refs[i] && t->ports[i] == port)
			break;
		if (!t->refs[i] && free == TAP_ANN_PORTS)
			free = i;
	}
	if (i == TAP_ANN_PORTS) {
		if (!on || free == TAP_ANN_PORTS)
			return; /* more ports than announced: those go by hash */
		i = free;
		t->ports[i] = port;
	}
	if (on)
		t->refs[i]++;
	else if (t->refs[i])
		t->refs[i]--;
	announce(t, 0);
}

void tap_steer_close(struct tap_steer *t)
{
	if (!t)
		return;
	announce(t, 1);
	free(t);
}
