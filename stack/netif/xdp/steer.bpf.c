/* The XDP program of the xdp:IF device kind: it sends to the stack's AF_XDP
 * socket only the packets of flows the stack serves, and everything else to
 * the kernel, which keeps the interface's address, ARP and other services.
 *
 * Redirected to xsks_map[rx queue] (XDP_PASS if that queue has no socket):
 *   - IPv4 TCP to a port in listen_ports (the stack's listeners),
 *   - IPv4 TCP whose 4-tuple is in flows (the stack's active opens),
 *   - IPv4 UDP to a port in udp_ports (the stack's bound UDP ports).
 * Passed to the kernel: ARP, ICMP, IPv6, VLAN-tagged frames, every other
 * port, IPv4 fragments (any with MF set or an offset: they cannot be
 * classified by port) and headers cut short. IP options are skipped by the
 * header length, so they do not prevent classification.
 *
 * stats counts, per queue, what was redirected and what passed.
 * The maps are filled by the driver (dpdk.c) through libbpf; DPDK's
 * net_af_xdp loads this object (xdp_prog=) and inserts its socket into
 * xsks_map. Built with clang -target bpf, embedded in the library. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define STEER_QUEUES 64
#define STEER_PORTS 1024
#define STEER_FLOWS 65536

/* Keys in network byte order, as on the wire. */
struct flow_key {
	__u32 laddr, raddr;
	__u16 lport, rport;
};

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, STEER_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, STEER_PORTS);
	__type(key, __u16);
	__type(value, __u8);
} listen_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, STEER_PORTS);
	__type(key, __u16);
	__type(value, __u8);
} udp_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, STEER_FLOWS);
	__type(key, struct flow_key);
	__type(value, __u8);
} flows SEC(".maps");

/* Per receive queue and CPU: packets redirected to the stack and passed
 * to the kernel (read by demistat, summed over the CPUs). */
struct steer_stats {
	__u64 redirected, passed;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STEER_QUEUES);
	__type(key, __u32);
	__type(value, struct steer_stats);
} stats SEC(".maps");

static __always_inline int verdict(struct xdp_md *ctx, int act)
{
	__u32 q = ctx->rx_queue_index;
	struct steer_stats *s = bpf_map_lookup_elem(&stats, &q);

	if (s) {
		if (act == XDP_REDIRECT)
			s->redirected++;
		else
			s->passed++;
	}
	return act;
}

static __always_inline int classify(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	void *l4;
	__u32 ihl;

	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->version != 4)
		return XDP_PASS;
	if (ip->frag_off & bpf_htons(0x3fff)) /* MF or an offset */
		return XDP_PASS;
	ihl = (__u32)ip->ihl * 4;
	if (ihl < sizeof(*ip))
		return XDP_PASS;
	l4 = (void *)ip + ihl;
	if (ip->protocol == IPPROTO_TCP) {
		struct tcphdr *th = l4;
		struct flow_key k;
		if ((void *)(th + 1) > end)
			return XDP_PASS;
		if (bpf_map_lookup_elem(&listen_ports, &th->dest))
			goto redirect;
		k.laddr = ip->daddr;
		k.raddr = ip->saddr;
		k.lport = th->dest;
		k.rport = th->source;
		if (bpf_map_lookup_elem(&flows, &k))
			goto redirect;
		return XDP_PASS;
	}
	if (ip->protocol == IPPROTO_UDP) {
		struct udphdr *uh = l4;
		if ((void *)(uh + 1) > end)
			return XDP_PASS;
		if (bpf_map_lookup_elem(&udp_ports, &uh->dest))
			goto redirect;
	}
	return XDP_PASS;
redirect:
	return bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
}

SEC("xdp")
int demi_steer(struct xdp_md *ctx)
{
	return verdict(ctx, classify(ctx));
}

char _license[] SEC("license") = "GPL";
