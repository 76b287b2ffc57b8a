/* The list of device kinds and the grammar every kind shares: KIND:ARG,
 * KIND one of the names below, ARG the kind's own (dev_KIND.c). */
#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "demi/dev.h"
#include "dev.h"

static const struct dev_kind *const dev_kinds[] = {
	&dev_tap, &dev_memif, &dev_af_xdp, &dev_af_packet, &dev_pci, &dev_xdp,
};
#define DEV_NKINDS (sizeof(dev_kinds) / sizeof(dev_kinds[0]))

int dev_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int dev_iface_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 15)
		return 0;
	for (; *s; s++)
		if (isspace((unsigned char)*s) || strchr("/,=:", *s))
			return 0;
	return 1;
}

int dev_parse_iface(struct dev *d, const char *arg, char *why, size_t whylen)
{
	if (!dev_iface_ok(arg))
		return dev_why(why, whylen, "bad interface name (1-15 characters, none of / , = : or blanks)");
	snprintf(d->iface, sizeof(d->iface), "%s", arg);
	return 0;
}

/* "tap, memif, ..." */
static const char *dev_names(char *out, size_t n)
{
	size_t u = 0;

	out[0] = 0;
	for (size_t i = 0; i < DEV_NKINDS && u < n; i++)
		u += (size_t)snprintf(out + u, n - u, "%s%s", i ? ", " : "", dev_kinds[i]->name);
	return out;
}

/* "tap:IF, memif:..." */
const char *dev_syntax(char *out, size_t outlen)
{
	size_t u = 0;

	out[0] = 0;
	for (size_t i = 0; i < DEV_NKINDS && u < outlen; i++)
		u += (size_t)snprintf(out + u, outlen - u, "%s%s", i ? ", " : "", dev_kinds[i]->syntax);
	return out;
}

int dev_parse(struct dev *d, const char *device, char *why, size_t whylen)
{
	const char *colon = strchr(device, ':');
	char names[160];

	memset(d, 0, sizeof(*d));
	if (!colon || colon == device)
		return dev_why(why, whylen, "expected KIND:ARG (%s)", dev_syntax(names, sizeof(names)));
	for (size_t i = 0; i < DEV_NKINDS; i++) {
		const struct dev_kind *k = dev_kinds[i];
		if (strlen(k->name) != (size_t)(colon - device) || strncmp(device, k->name, strlen(k->name)))
			continue;
		d->kind = k;
		d->t = k->traits;
		return k->parse(d, colon + 1, why, whylen);
	}
	return dev_why(why, whylen, "unknown kind (%s)", dev_names(names, sizeof(names)));
}

int demi_dev_check(const char *device, char *why, size_t whylen)
{
	struct dev d;

	if (!device || !*device)
		return dev_why(why, whylen, "no device configured");
	return dev_parse(&d, device, why, whylen);
}

int demi_dev_default_addr(const char *device, struct in_addr *addr, unsigned *prefix_len, char *why,
			  size_t whylen)
{
	struct ifaddrs *ifa, *i;
	struct dev d;
	int rc = -EADDRNOTAVAIL;

	if (dev_parse(&d, device ? device : "", why, whylen) != 0)
		return -EINVAL;
	if (!d.t.shared)
		return -ENOTSUP;
	if (!if_nametoindex(d.iface)) {
		snprintf(why, whylen, "no interface %s", d.iface);
		return -ENODEV;
	}
	if (getifaddrs(&ifa) != 0) {
		snprintf(why, whylen, "cannot list the addresses of %s", d.iface);
		return -errno;
	}
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || strcmp(i->ifa_name, d.iface))
			continue;
		*addr = ((const struct sockaddr_in *)i->ifa_addr)->sin_addr;
		*prefix_len = i->ifa_netmask ? (unsigned)__builtin_popcount(
			((const struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr) : 32;
		rc = 0;
		break;
	}
	freeifaddrs(ifa);
	if (rc)
		snprintf(why, whylen, "%s has no IPv4 address", d.iface);
	return rc;
}
