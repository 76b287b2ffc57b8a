/* From the configured device to an EAL command line. No DPDK here: what is
 * decided (vdev strings, memory mode, flags) is tested without a device.
 *
 * Flags always given (see NOTES-DPDK.md): --lcores 0@(CPUS) so EAL does not
 * pin the application's thread to one CPU, --no-telemetry, --log-level=*:error,
 * --no-pci for virtual devices (else the VM's own virtio NIC is probed).
 * Memory: --in-memory on hugepages when enough are free and hugetlbfs is
 * mounted, else --no-huge -m N --no-shconf (--in-memory is refused there). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dpdk.h"

struct argb {
	struct dpdk_spec *sp;
	size_t used;
	int overflow;
};

static void arg_add(struct argb *b, const char *fmt, ...)
{
	struct dpdk_spec *sp = b->sp;
	va_list ap;
	int n;
	if (b->overflow || sp->argc >= DPDK_ARGV_MAX - 1) {
		b->overflow = 1;
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(sp->buf + b->used, sizeof(sp->buf) - b->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(sp->buf) - b->used) {
		b->overflow = 1;
		return;
	}
	sp->argv[sp->argc++] = sp->buf + b->used;
	sp->argv[sp->argc] = NULL;
	b->used += (size_t)n + 1;
}

static int spec_err(char *err, size_t errlen, const char *device, const char *why)
{
	snprintf(err, errlen, "device '%.200s': %s", device, why);
	return -EINVAL;
}

/* An interface name as the kernel allows it: 1..15 chars, no '/', ',' or blanks. */
static int iface_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 15)
		return 0;
	return strpbrk(s, "/, \t=:") == NULL;
}

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

/* memif:SOCK,role=server|client[,k=v...]: the socket path, role, and the
 * extra devargs passed through. */
static int spec_memif(struct dpdk_spec *sp, const char *dev, const char *rest, char *err, size_t errlen)
{
	char tmp[512], extra[256] = "";
	char *save = NULL, *tok, *path;
	int role = -1;
	if (snprintf(tmp, sizeof(tmp), "%s", rest) >= (int)sizeof(tmp))
		return spec_err(err, errlen, dev, "too long");
	path = strtok_r(tmp, ",", &save);
	if (!path || !*path || strchr(path, '='))
		return spec_err(err, errlen, dev, "memif needs a socket path: memif:/run/x.sock,role=server");
	if (snprintf(sp->memif_sock, sizeof(sp->memif_sock), "%s", path) >= (int)sizeof(sp->memif_sock))
		return spec_err(err, errlen, dev, "socket path too long");
	while ((tok = strtok_r(NULL, ",", &save))) {
		if (!strcmp(tok, "role=server"))
			role = 1;
		else if (!strcmp(tok, "role=client"))
			role = 0;
		else if (!strncmp(tok, "role=", 5))
			return spec_err(err, errlen, dev, "role must be server or client");
		else if (!strncmp(tok, "socket", 6))
			return spec_err(err, errlen, dev, "the socket is given by the path");
		else if (!strchr(tok, '='))
			return spec_err(err, errlen, dev, "expected key=value after the path");
		else {
			size_t u = strlen(extra);
			snprintf(extra + u, sizeof(extra) - u, ",%s", tok);
		}
	}
	if (role < 0)
		return spec_err(err, errlen, dev, "memif needs role=server or role=client");
	sp->memif_server = role;
	snprintf(sp->vdev, sizeof(sp->vdev), "net_memif0,role=%s,socket=%s,socket-abstract=no%s",
		 role ? "server" : "client", sp->memif_sock, extra);
	return 0;
}

static int spec_device(struct dpdk_spec *sp, const char *dev, const struct dpdk_env *env,
		       char *err, size_t errlen)
{
	const char *colon = strchr(dev, ':');
	const char *rest;
	size_t klen;
	if (!colon || colon == dev)
		return spec_err(err, errlen, dev, "expected KIND:ARG (tap, memif, af_xdp, af_packet, pci)");
	klen = (size_t)(colon - dev);
	rest = colon + 1;
	if (klen == 3 && !strncmp(dev, "tap", 3)) {
		uint8_t m[6];
		sp->kind = DPDK_KIND_TAP;
		if (!iface_ok(rest))
			return spec_err(err, errlen, dev, "bad interface name");
		snprintf(sp->iface, sizeof(sp->iface), "%s", rest);
		if (env->mac)
			memcpy(m, env->mac, 6);
		else
			dpdk_mac_from_name(rest, m);
		memcpy(sp->mac, m, 6);
		/* net_tap gives its mac= to both ends, the kernel's included, and
		 * passes every frame whatever its address: the kernel end gets
		 * mac=, the stack uses its own (02:de:.. vs 02:df:..) */
		m[1] ^= 0x01;
		snprintf(sp->vdev, sizeof(sp->vdev),
			 "net_tap0,iface=%s,mac=%02x:%02x:%02x:%02x:%02x:%02x", rest,
			 m[0], m[1], m[2], m[3], m[4], m[5]);
		return 0;
	}
	if (klen == 5 && !strncmp(dev, "memif", 5)) {
		sp->kind = DPDK_KIND_MEMIF;
		return spec_memif(sp, dev, rest, err, errlen);
	}
	if (klen == 6 && !strncmp(dev, "af_xdp", 6)) {
		sp->kind = DPDK_KIND_AF_XDP;
		if (!iface_ok(rest))
			return spec_err(err, errlen, dev, "bad interface name");
		snprintf(sp->iface, sizeof(sp->iface), "%s", rest);
		snprintf(sp->vdev, sizeof(sp->vdev), "net_af_xdp0,iface=%s,start_queue=0,queue_count=1", rest);
		return 0;
	}
	if (klen == 9 && !strncmp(dev, "af_packet", 9)) {
		sp->kind = DPDK_KIND_AF_PACKET;
		if (!iface_ok(rest))
			return spec_err(err, errlen, dev, "bad interface name");
		snprintf(sp->iface, sizeof(sp->iface), "%s", rest);
		snprintf(sp->vdev, sizeof(sp->vdev), "net_af_packet0,iface=%s", rest);
		return 0;
	}
	if (klen == 3 && !strncmp(dev, "pci", 3)) {
		sp->kind = DPDK_KIND_PCI;
		if (!*rest || strlen(rest) >= sizeof(sp->pci) || strpbrk(rest, " \t"))
			return spec_err(err, errlen, dev, "bad PCI address");
		snprintf(sp->pci, sizeof(sp->pci), "%s", rest);
		return 0;
	}
	return spec_err(err, errlen, dev, "unknown kind (tap, memif, af_xdp, af_packet, pci)");
}

int dpdk_spec_build(struct dpdk_spec *sp, const char *device, const char *eal_args,
		    const struct dpdk_env *env, char *err, size_t errlen)
{
	struct argb b = { .sp = sp };
	char extra[512];
	char *save = NULL, *tok;
	int rc;

	memset(sp, 0, sizeof(*sp));
	if (!device || !*device)
		return spec_err(err, errlen, "", "no device configured");
	if ((rc = spec_device(sp, device, env, err, errlen)) != 0)
		return rc;
	arg_add(&b, "%s", env->prog && *env->prog ? env->prog : "demi");
	arg_add(&b, "--lcores");
	arg_add(&b, "0@(%s)", env->cpus && *env->cpus ? env->cpus : "0");
	arg_add(&b, "--no-telemetry");
	arg_add(&b, "--log-level=*:error");
	if (env->hugepages) {
		arg_add(&b, "--in-memory");
	} else {
		arg_add(&b, "--no-huge");
		arg_add(&b, "-m");
		arg_add(&b, "%u", env->mem_mb ? env->mem_mb : 128);
		arg_add(&b, "--no-shconf");
	}
	if (sp->kind == DPDK_KIND_PCI) {
		arg_add(&b, "-a");
		arg_add(&b, "%s", sp->pci);
	} else {
		arg_add(&b, "--no-pci");
		arg_add(&b, "--vdev");
		arg_add(&b, "%s", sp->vdev);
	}
	if (eal_args && *eal_args) {
		if (snprintf(extra, sizeof(extra), "%s", eal_args) >= (int)sizeof(extra))
			return spec_err(err, errlen, device, "eal_args too long");
		for (tok = strtok_r(extra, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save))
			arg_add(&b, "%s", tok);
	}
	if (b.overflow)
		return spec_err(err, errlen, device, "EAL arguments too long");
	return 0;
}

uint64_t dpdk_hugepages_free(const char *meminfo, const char *mounts)
{
	char line[512];
	unsigned long long nfree = 0, kb = 0;
	int mounted = 0;
	FILE *f;

	if ((f = fopen(mounts, "r"))) {
		while (fgets(line, sizeof(line), f))
			if (strstr(line, " hugetlbfs "))
				mounted = 1;
		fclose(f);
	}
	if (!mounted || !(f = fopen(meminfo, "r")))
		return 0;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "HugePages_Free: %llu", &nfree);
		sscanf(line, "Hugepagesize: %llu kB", &kb);
	}
	fclose(f);
	return (uint64_t)nfree * kb * 1024;
}

uint32_t dpdk_mbuf_room(uint16_t mtu, uint32_t rx_gap)
{
	if (mtu <= 1500)
		return DPDK_ROOM_DEFAULT;
	return PBUF_HEADROOM + ((rx_gap + mtu + 18 + 63) & ~63u); /* + Ethernet and a VLAN tag */
}

uint32_t dpdk_pool_mbufs(uint32_t asked, uint32_t room)
{
	uint64_t n;
	if (asked)
		return asked;
	n = (uint64_t)DPDK_MBUFS_DEFAULT * DPDK_ROOM_DEFAULT / room;
	return n < 2048 ? 2048 : (uint32_t)n;
}

uint32_t dpdk_mem_mb(uint32_t mbufs, uint32_t room)
{
	/* per mbuf: header, private area and data room (~2.5 KiB at MTU 1500),
	 * doubled for the rings and allocator slack, plus 64 MiB for EAL and
	 * the drivers; in 64 MiB steps */
	uint64_t mb = 64 + ((uint64_t)mbufs * (room + 384) * 2 >> 20);
	mb = (mb + 63) / 64 * 64;
	return mb > 16384 ? 16384 : (uint32_t)mb;
}
