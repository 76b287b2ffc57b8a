/* pci:ADDR: a NIC bound to a userspace driver, given to EAL with -a. */
#include <stdio.h>
#include <string.h>

#include "dpdk.h"

static int pci_parse(struct dev *d, const char *arg, char *why, size_t whylen)
{
	if (!*arg || strlen(arg) >= sizeof(d->pci) || strpbrk(arg, " \t,"))
		return dev_why(why, whylen, "bad PCI address");
	snprintf(d->pci, sizeof(d->pci), "%s", arg);
	return 0;
}

static int pci_devarg(struct dpdk_spec *sp, const struct dpdk_env *env, char *why, size_t whylen)
{
	(void)env;
	(void)why;
	(void)whylen;
	snprintf(sp->devarg, sizeof(sp->devarg), "%s", sp->dev.pci);
	return 0;
}

const struct dev_kind dev_pci = {
	.name = "pci",
	.syntax = "pci:ADDR",
	.parse = pci_parse,
	.devarg = pci_devarg,
};
