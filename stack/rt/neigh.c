/* Neighbours, the gateway and the kernel's resolution for a device shared
 * with the kernel (netif.kernel_ifindex): the kernel owns ARP there, and the
 * stack's ARP cache is fed from the kernel's neighbour table over plain
 * rtnetlink. A dump of the interface's entries at start, then again from
 * housekeeping (every 100 ms while the stack waits for a next hop, every
 * second otherwise); a next hop the stack newly waits for is asked of the
 * kernel at once (RTM_NEWNEIGH with NTF_USE: the kernel sends the ARP) and
 * looked for 5 ms later, then with each dump until it comes. System calls are made directly, not through the shim's
 * interposed names. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "demi/log.h"
#include "rt_impl.h"

#define NEIGH_FAST_NS (100 * 1000 * 1000ull)
#define NEIGH_SLOW_NS (1000 * 1000 * 1000ull)
#define NEIGH_ASKED_NS (5 * 1000 * 1000ull) /* the first look after asking */
#define NEIGH_MISS_MAX 8

static int nl_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd = (int)syscall(SYS_socket, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (syscall(SYS_bind, fd, &sa, sizeof(sa)) != 0) {
		int e = errno;
		syscall(SYS_close, fd);
		return -e;
	}
	return fd;
}

static int nl_send(int fd, void *msg, size_t len)
{
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	return syscall(SYS_sendto, fd, msg, len, 0, &to, sizeof(to)) == (long)len ? 0 : -errno;
}

/* Receive the dump answering seq, calling fn on each message; 0 at its
 * end, -errno on an error or after 1 s without its end. */
static int nl_dump(int fd, uint32_t seq, void (*fn)(struct nlmsghdr *h, void *arg), void *arg)
{
	enum { NL_BUF = 32768 };
	uint64_t until = rt_now() + NEIGH_SLOW_NS;
	char *buf = malloc(NL_BUF);
	int rc = -ETIMEDOUT;

	if (!buf)
		return -ENOMEM;
	while (rc == -ETIMEDOUT && rt_now() < until) {
		long n = syscall(SYS_recvfrom, fd, buf, NL_BUF, 0, NULL, NULL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				struct timespec ts = { 0, 20000 };
				nanosleep(&ts, NULL);
				continue;
			}
			rc = -errno;
			break;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq) /* an earlier request's answer */
				continue;
			if (h->nlmsg_type == NLMSG_DONE) {
				rc = 0;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);
				rc = e->error ? e->error : -EIO;
				break;
			}
			fn(h, arg);
		}
	}
	free(buf);
	return rc;
}

static int nl_request(int fd, uint16_t type, uint8_t family, uint32_t seq)
{
	struct {
		struct nlmsghdr h;
		struct rtgenmsg g;
	} req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = type, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		       .nlmsg_seq = seq },
		.g = { .rtgen_family = family },
	};
	return nl_send(fd, &req, sizeof(req));
}

struct neigh_walk {
	struct stack *st;
	int ifindex;
	int learnt;
};

static void neigh_one(struct nlmsghdr *h, void *arg)
{
	struct neigh_walk *w = arg;
	struct ndmsg *nd = NLMSG_DATA(h);
	int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*nd));
	struct in_addr ip = { 0 };
	const uint8_t *mac = NULL;

	if (h->nlmsg_type != RTM_NEWNEIGH || len < 0 || nd->ndm_family != AF_INET || nd->ndm_ifindex != w->ifindex)
		return;
	if (nd->ndm_state & (NUD_INCOMPLETE | NUD_FAILED | NUD_NONE))
		return;
	for (struct rtattr *a = (struct rtattr *)((char *)nd + NLMSG_ALIGN(sizeof(*nd))); RTA_OK(a, len);
	     a = RTA_NEXT(a, len)) {
		if (a->rta_type == NDA_DST && RTA_PAYLOAD(a) == 4)
			memcpy(&ip, RTA_DATA(a), 4);
		else if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == 6)
			mac = RTA_DATA(a);
	}
	if (ip.s_addr && mac && stack_neigh_update(w->st, ip, mac) == 0)
		w->learnt++;
}

/* Ask the kernel to resolve ip on the interface (it sends the ARP). */
static void neigh_resolve(int fd, int ifindex, struct in_addr ip, uint32_t seq)
{
	struct {
		struct nlmsghdr h;
		struct ndmsg nd;
		struct rtattr a;
		struct in_addr ip;
	} req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_NEWNEIGH,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE, .nlmsg_seq = seq },
		.nd = { .ndm_family = AF_INET, .ndm_ifindex = ifindex, .ndm_state = NUD_NONE, .ndm_flags = NTF_USE },
		.a = { .rta_len = RTA_LENGTH(4), .rta_type = NDA_DST },
		.ip = ip,
	};
	(void)nl_send(fd, &req, sizeof(req));
}

int rt_neigh_start(struct rt_neigh *n, int ifindex)
{
	int fd = nl_open();
	n->fd = -1;
	n->ifindex = ifindex;
	n->next = 0;
	if (fd < 0)
		return fd;
	n->fd = fd;
	return 0;
}

void rt_neigh_stop(struct rt_neigh *n)
{
	if (n->fd >= 0)
		syscall(SYS_close, n->fd);
	n->fd = -1;
}

void rt_neigh_poll(struct rt_neigh *n, struct stack *st, uint64_t now)
{
	struct neigh_walk w = { .st = st, .ifindex = n->ifindex };
	struct in_addr miss[NEIGH_MISS_MAX];
	int nmiss, rc;

	if (n->fd < 0)
		return;
	/* a next hop newly missing: the kernel is asked at once, and its
	 * answer looked for soon */
	nmiss = stack_neigh_missing(st, miss, NEIGH_MISS_MAX);
	if (nmiss && !n->asked) {
		for (int i = 0; i < nmiss; i++)
			neigh_resolve(n->fd, n->ifindex, miss[i], ++n->seq);
		n->asked = 1;
		if (n->next > now + NEIGH_ASKED_NS)
			n->next = now + NEIGH_ASKED_NS;
	}
	if (now < n->next)
		return;
	n->seq++;
	if ((rc = nl_request(n->fd, RTM_GETNEIGH, AF_INET, n->seq)) == 0)
		rc = nl_dump(n->fd, n->seq, neigh_one, &w);
	if (rc != 0 && !n->warned) {
		demi_log(DEMI_LOG_WARN, "neighbours: the kernel's table could not be read: %s", strerror(-rc));
		n->warned = 1;
	}
	nmiss = stack_neigh_missing(st, miss, NEIGH_MISS_MAX);
	for (int i = 0; i < nmiss; i++)
		neigh_resolve(n->fd, n->ifindex, miss[i], ++n->seq);
	n->asked = nmiss > 0;
	n->next = now + (nmiss ? NEIGH_FAST_NS : NEIGH_SLOW_NS);
}

struct route_walk {
	int ifindex;
	struct in_addr gw;
};

static void route_one(struct nlmsghdr *h, void *arg)
{
	struct route_walk *w = arg;
	struct rtmsg *rm = NLMSG_DATA(h);
	int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*rm)), oif = 0;
	struct in_addr gw = { 0 };

	if (h->nlmsg_type != RTM_NEWROUTE || len < 0 || rm->rtm_family != AF_INET || rm->rtm_dst_len != 0 ||
	    rm->rtm_table != RT_TABLE_MAIN || w->gw.s_addr)
		return;
	for (struct rtattr *a = RTM_RTA(rm); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) == 4)
			memcpy(&oif, RTA_DATA(a), 4);
		else if (a->rta_type == RTA_GATEWAY && RTA_PAYLOAD(a) == 4)
			memcpy(&gw, RTA_DATA(a), 4);
	}
	if (oif == w->ifindex)
		w->gw = gw;
}

int rt_neigh_gateway(int ifindex, struct in_addr *gw)
{
	struct route_walk w = { .ifindex = ifindex };
	int fd = nl_open(), rc;

	if (fd < 0)
		return fd;
	if ((rc = nl_request(fd, RTM_GETROUTE, AF_INET, 1)) == 0)
		rc = nl_dump(fd, 1, route_one, &w);
	syscall(SYS_close, fd);
	if (rc == 0 && !w.gw.s_addr)
		rc = -ENOENT;
	if (rc == 0)
		*gw = w.gw;
	return rc;
}
