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

int dpdk_spec_build(struct dpdk_spec *sp, const char *device, const char *eal_args,
		    const struct dpdk_env *env, char *err, size_t errlen)
{
	struct argb b = { .sp = sp };
	char extra[512], why[200];
	char *save = NULL, *tok;

	memset(sp, 0, sizeof(*sp));
	if (!device || !*device)
		return spec_err(err, errlen, "", "no device configured");
	if (dev_parse(&sp->dev, device, why, sizeof(why)) != 0 ||
	    sp->dev.kind->devarg(sp, env, why, sizeof(why)) != 0)
		return spec_err(err, errlen, device, why);
	sp->hugepages = !!env->hugepages;
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
	if (sp->dev.kind->vdev) {
		arg_add(&b, "--no-pci");
		arg_add(&b, "--vdev");
	} else {
		arg_add(&b, "-a");
	}
	arg_add(&b, "%s", sp->devarg);
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
