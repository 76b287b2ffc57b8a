/* Neighbours, the gateway and the kernel's resolution for a device shared
 * with the kernel (netif.kernel_ifindex): the kernel owns ARP there, and the
 * stack's ARP cache is fed from the kernel's neighbour table over plain
 * rtnetlink. A dump of the interface's entries at start, then again from
 * housekeeping (every 100 ms while the stack waits for a next hop, every
 * second otherwise); a next hop the stack newly waits for is asked of the
 * kernel at once (RTM_NEWNEIGH with NTF_USE: the kernel sends the ARP) and
 * looked for 5 ms later, then with each dump until it comes.
 *
 * Changes come as they happen, on a second socket in the groups
 * RTNLGRP_NEIGH, RTNLGRP_IPV4_ROUTE and RTNLGRP_IPV4_IFADDR, drained at
 * each housekeeping pass (about every ms): a neighbour's new MAC goes into
 * the stack's cache at once; a route or address change has the gateway read
 * again (the kernel's default route through the interface, unless [net]
 * gateway was configured). A lost event (the socket overran) brings a dump.
 * The stack's own address is not changed at run time. System calls are
 * made directly, not through the shim's interposed names. */
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
#include <arpa/inet.h>

#include "demi/log.h"
#include "rt_impl.h"

#define NEIGH_FAST_NS (100 * 1000 * 1000ull)
#define NEIGH_SLOW_NS (1000 * 1000 * 1000ull)
#define NEIGH_ASKED_NS (5 * 1000 * 1000ull) /* the first look after asking */
#define NEIGH_MISS_MAX 8

static int nl_open_groups(uint32_t groups)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = groups };
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

static int nl_open(void)
{
	return nl_open_groups(0);
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

int rt_neigh_start(struct rt_neigh *n, int ifindex, int follow_gw, struct in_addr gw)
{
	int fd = nl_open();
	n->fd = n->ev_fd = -1;
	n->ifindex = ifindex;
	n->next = 0;
	n->follow_gw = follow_gw;
	n->gw = gw;
	if (fd < 0)
		return fd;
	n->fd = fd;
	n->ev_fd = nl_open_groups(RTMGRP_NEIGH | RTMGRP_IPV4_ROUTE | RTMGRP_IPV4_IFADDR);
	if (n->ev_fd < 0)
		demi_log(DEMI_LOG_WARN, "neighbours, routes: no rtnetlink events (%s): the kernel's table is read "
			 "every second, the gateway only at start", strerror(-n->ev_fd));
	return 0;
}

void rt_neigh_stop(struct rt_neigh *n)
{
	if (n->fd >= 0)
		syscall(SYS_close, n->fd);
	if (n->ev_fd >= 0)
		syscall(SYS_close, n->ev_fd);
	n->fd = n->ev_fd = -1;
}

/* The events waiting on ev_fd: neighbours into the stack, routes and
 * addresses noted. */
static void neigh_events(struct rt_neigh *n, struct stack *st, uint64_t now)
{
	struct neigh_walk w = { .st = st, .ifindex = n->ifindex };
	char buf[8192];

	for (int rounds = 0; rounds < 16; rounds++) {
		long len = syscall(SYS_recvfrom, n->ev_fd, buf, sizeof(buf), MSG_DONTWAIT, NULL, NULL);
		if (len < 0) {
			if (errno == ENOBUFS) { /* events lost: read it all again */
				n->next = now;
				n->routes_changed = 1;
				continue;
			}
			return;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == RTM_NEWNEIGH)
				neigh_one(h, &w);
			else if (h->nlmsg_type == RTM_NEWROUTE || h->nlmsg_type == RTM_DELROUTE ||
				 h->nlmsg_type == RTM_NEWADDR || h->nlmsg_type == RTM_DELADDR)
				n->routes_changed = 1;
		}
	}
}

/* The kernel's default route through the interface, again. */
static void gateway_follow(struct rt_neigh *n, struct stack *st)
{
	struct in_addr gw = { 0 };
	char a[16], b[16];
	int rc;

	n->routes_changed = 0;
	if (!n->follow_gw)
		return;
	rc = rt_neigh_gateway(n->ifindex, &gw);
	if ((rc != 0 && rc != -ENOENT) || gw.s_addr == n->gw.s_addr)
		return;
	snprintf(a, sizeof(a), "%s", n->gw.s_addr ? inet_ntoa(n->gw) : "none");
	snprintf(b, sizeof(b), "%s", gw.s_addr ? inet_ntoa(gw) : "none");
	demi_log(DEMI_LOG_INFO, "gateway %s, was %s (the kernel's default route changed)", b, a);
	n->gw = gw;
	stack_set_gateway(st, gw);
}

void rt_neigh_poll(struct rt_neigh *n, struct stack *st, uint64_t now)
{
	struct neigh_walk w = { .st = st, .ifindex = n->ifindex };
	struct in_addr miss[NEIGH_MISS_MAX];
	int nmiss, rc;

	if (n->fd < 0)
		return;
	if (n->ev_fd >= 0)
		neigh_events(n, st, now);
	if (n->routes_changed)
		gateway_follow(n, st);
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
