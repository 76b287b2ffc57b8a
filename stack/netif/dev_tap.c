/* tap:IF: DPDK's net_tap makes the interface IF; its kernel end is the peer.
 * net_tap gives its mac= to both ends, the kernel's included, and passes
 * every frame whatever its address: the kernel end gets mac=, the stack uses
 * its own (02:de:.. vs 02:df:..). The queue fd is its rx interrupt.
 *
 * Several processes share one tap: each attaches a queue of its own
 * (IFF_MULTI_QUEUE), the kernel picks the queue of a frame it sends into
 * the tap (tun's flow table: the queue that last sent the flow; a new flow
 * by hash). The device can be used by several processes (trait multi_proc): in a worker forked by the
 * configured process a segment of a connection the stack does not know is
 * dropped, never answered with a RST, as it may be a sibling's (rt/start.c
 * sets stack_cfg.shared_dev). A forked worker that finds another queue attached
 * makes the tap persistent (dpdk_tap_keep): when old workers leave before
 * new ones attached (nginx -s reload) the tap and its kernel-side address
 * and routes stay; `ip link del` removes it. A single process's tap goes
 * with it, as before. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <net/if.h>
#include <linux/if_tun.h>

#include "dpdk.h"

/* The stack's MAC when none is configured. */
void dpdk_mac_from_name(const char *name, uint8_t mac[6])
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const char *c = name; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	mac[0] = 0x02; /* locally administered, unicast */
	mac[1] = 0xde;
	mac[2] = (uint8_t)(h >> 24);
	mac[3] = (uint8_t)(h >> 16);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
}

static int tap_devarg(struct dpdk_spec *sp, const struct dpdk_env *env, char *why, size_t whylen)
{
	uint8_t m[6];

	(void)why;
	(void)whylen;
	if (env->mac)
		memcpy(m, env->mac, 6);
	else
		dpdk_mac_from_name(sp->dev.iface, m);
	memcpy(sp->mac, m, 6);
	m[1] ^= 0x01;
	snprintf(sp->devarg, sizeof(sp->devarg), "net_tap0,iface=%s,mac=%02x:%02x:%02x:%02x:%02x:%02x",
		 sp->dev.iface, m[0], m[1], m[2], m[3], m[4], m[5]);
	return 0;
}

#define TAP_QUEUES_MAX 256 /* tun's MAX_TAP_QUEUES */

/* The queues attached to tap IF (tun sets the device's rx queues to them). */
static int tap_queues(const char *iface)
{
	char path[64];
	struct dirent *e;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/sys/class/net/%s/queues", iface);
	if (!(dir = opendir(path)))
		return 0;
	while ((e = readdir(dir)))
		n += !strncmp(e->d_name, "rx-", 3);
	closedir(dir);
	return n;
}

int dpdk_tap_keep(const char *iface, int qfd)
{
	struct ifreq r;
	int fd = qfd, rc;

	if (tap_queues(iface) < 2)
		return 0;
	if (fd < 0) { /* no queue fd of ours: attach one for the call */
		memset(&r, 0, sizeof(r));
		r.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE;
		snprintf(r.ifr_name, sizeof(r.ifr_name), "%s", iface);
		if ((fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) < 0)
			return -errno;
		if (ioctl(fd, TUNSETIFF, &r) != 0) {
			rc = -errno;
			close(fd);
			return rc;
		}
	}
	rc = ioctl(fd, TUNSETPERSIST, 1) == 0 ? 1 : -errno;
	if (fd != qfd)
		close(fd);
	return rc;
}

/* An interface IF that exists already must be a multi-queue tap with room
 * for one more queue, or this process cannot attach it: say why (the
 * process then stays with the kernel) rather than net_tap's "Unable to
 * create TAP interface". */
static int tap_prepare(const struct dev *d, char *why, size_t whylen)
{
	char path[96];
	unsigned flags = 0;
	int queues;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s", d->iface);
	if (access(path, F_OK) != 0)
		return 0; /* net_tap makes it */
	snprintf(path, sizeof(path), "/sys/class/net/%s/tun_flags", d->iface);
	if (!(f = fopen(path, "re"))) {
		dev_why(why, whylen, "%s exists and is not a tap", d->iface);
		return -EEXIST;
	}
	if (fscanf(f, "%x", &flags) != 1)
		flags = 0;
	fclose(f);
	if (!(flags & IFF_TAP)) {
		dev_why(why, whylen, "%s is a tun, not a tap", d->iface);
		return -EEXIST;
	}
	if (!(flags & IFF_MULTI_QUEUE)) {
		dev_why(why, whylen, "tap %s was made without multi_queue: no process can attach another queue",
			d->iface);
		return -EEXIST;
	}
	if ((queues = tap_queues(d->iface)) >= TAP_QUEUES_MAX) {
		dev_why(why, whylen, "tap %s has %d queues, the most tun takes: no room for this process",
			d->iface, queues);
		return -EBUSY;
	}
	return 0;
}

const struct dev_kind dev_tap = {
	.name = "tap",
	.syntax = "tap:IF",
	.vdev = 1,
	.parse = dev_parse_iface,
	.devarg = tap_devarg,
	.prepare = tap_prepare,
	.traits = { .try_intr = 1, .own_mac = 1, .multi_proc = 1 },
};
