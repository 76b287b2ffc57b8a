/* The XDP program of the xdp:IF device kind: it sends to the stack's AF_XDP
 * socket only the packets of flows the stack serves, and everything else to
 * the kernel, which keeps the interface's address, ARP and other services.
 *
 * Several processes share it, one receive queue each: an XDP socket only
 * receives from its own queue, so every entry names the queue of the
 * process that made it. Redirected to xsks_map[rx queue] (XDP_PASS if that
 * queue has no socket, e.g. its process was killed):
 *   - IPv4 TCP to (port, rx queue) in listen_ports (the listeners of the
 *     process on that queue; the same port on a queue whose process does
 *     not listen goes to the kernel, where the listener's kernel twin is),
 *   - IPv4 TCP whose 4-tuple is in flows with the rx queue as its value
 *     (the active opens of that queue's process); the same 4-tuple on
 *     another queue is dropped and counted as misqueued: no other process
 *     knows it, and the kernel would answer with a RST,
 *   - IPv4 UDP to (port, rx queue) in udp_ports (bound UDP ports).
 * Passed to the kernel: ARP, ICMP, IPv6, VLAN-tagged frames, every other
 * port, IPv4 fragments (any with MF set or an offset: they cannot be
 * classified by port) and headers cut short. IP options are skipped by the
 * header length, so they do not prevent classification.
 *
 * stats counts, per queue, what was redirected, passed and misqueued;
 * owners has, per queue, the pid of the process on it (for demistat).
 * The program is named xsk_def_prog so that libxdp's socket set-up (in
 * DPDK's net_af_xdp) finds it attached and only inserts its socket into
 * xsks_map at its queue. The maps are filled by dpdk.c through libbpf.
 * Built with clang -target bpf, embedded in the library. */
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

/* A port (network order) and the receive queue of the process that has it. */
struct port_key {
	__u16 port;
	__u16 queue;
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
	__type(key, struct port_key);
	__type(value, __u8);
} listen_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, STEER_PORTS);
	__type(key, struct port_key);
	__type(value, __u8);
} udp_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, STEER_FLOWS);
	__type(key, struct flow_key);
	__type(value, __u32); /* the owner's queue */
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, STEER_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} owners SEC(".maps");

/* Per receive queue and CPU: packets redirected to the stack, passed to
 * the kernel, and dropped as another queue's flow (read by demistat,
 * summed over the CPUs). */
struct steer_stats {
	__u64 redirected, passed, misqueued;
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
		else if (act == XDP_DROP)
			s->misqueued++;
		else
			s->passed++;
	}
	return act;
}

static __always_inline int classify(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct port_key pk = { .queue = (__u16)ctx->rx_queue_index };
	struct iphdr *ip;
	void *l4;
	__u32 ihl, *owner;

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
		pk.port = th->dest;
		if (bpf_map_lookup_elem(&listen_ports, &pk))
			goto redirect;
		k.laddr = ip->daddr;
		k.raddr = ip->saddr;
		k.lport = th->dest;
		k.rport = th->source;
		if ((owner = bpf_map_lookup_elem(&flows, &k)))
			return *owner == ctx->rx_queue_index ? bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS) :
							       XDP_DROP;
		return XDP_PASS;
	}
	if (ip->protocol == IPPROTO_UDP) {
		struct udphdr *uh = l4;
		if ((void *)(uh + 1) > end)
			return XDP_PASS;
		pk.port = uh->dest;
		if (bpf_map_lookup_elem(&udp_ports, &pk))
			goto redirect;
	}
	return XDP_PASS;
redirect: /* not to a queue no process holds (entries a killed one left) */
	ihl = ctx->rx_queue_index;
	owner = bpf_map_lookup_elem(&owners, &ihl);
	if (!owner || !*owner)
		return XDP_PASS;
	return bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
}

SEC("xdp")
int xsk_def_prog(struct xdp_md *ctx)
{
	return verdict(ctx, classify(ctx));
}

char _license[] SEC("license") = "GPL";
/* libxdp checks the version of an xsk_def_prog it adopts (its own is 1) */
__uint(xsk_prog_version, 1) SEC("xdp_metadata");
