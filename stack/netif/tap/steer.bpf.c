/* Steering for a tap shared by several processes (tap:IF, trait multi_proc):
 * which queue, so which process, gets a frame the kernel sends into the tap.
 *
 * tap_learn (tc clsact ingress of the tap) sees every frame a process writes
 * on its queue; skb->queue_mapping is that queue + 1 (tun records it).
 *   - An announcement (ethertype TAP_ANN_ETHERTYPE, consumed here) carries the
 *     process's pid and its listening TCP ports: its slot in `procs` gets the
 *     queue it came from, the ports and the time. Sent by each process every
 *     100 ms and at once when a listener opens or closes (steer.c).
 *   - Any IPv4 TCP segment: the flow's owner (`owner`, by 4-tuple) becomes
 *     the pid that last announced from that queue (`qpid`).
 * tap_steer (TUNSETSTEERINGEBPF; tun takes its result % queues):
 *   - a SYN: one of the live processes listening on its port, by a hash of
 *     the 4-tuple over that set;
 *   - another TCP segment: its owner's current queue while the owner is live,
 *     else like a SYN (a listener may know it: a SYN cookie);
 *   - not TCP (ARP, ICMP): the live process that announced a listener last;
 *   - TCP to a port nobody listens on: the hash.
 * Queue numbers change when a queue detaches (tun moves the last queue into
 * the hole), so only pids are kept per flow and per port; a pid's queue is
 * refreshed by its next announcement. A process that stops announcing (it
 * exited, was killed) is not live TAP_LIVE_NS after its last one.
 *
 * The tc filter and the tun program hold the maps: they last as long as the
 * tap, whoever loaded them, and go with it. Built with clang -target bpf,
 * embedded in the library (steer.c loads it). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "tap_ann.h"

#define TAP_LIVE_NS (1000 * 1000 * 1000ull)
#define TAP_LSET 8 /* processes per listening port */

struct proc {
	__u32 queue;
	__u32 nports;
	__u64 ts;
	__u16 ports[TAP_ANN_PORTS]; /* network byte order */
};

/* The pids listening on a port (0: a free place). */
struct lset {
	__u32 pid[TAP_LSET];
};

/* Keys as seen from the stack's side, network byte order. */
struct flow_key {
	__u32 laddr, raddr;
	__u16 lport, rport;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TAP_PROCS);
	__type(key, __u32);
	__type(value, struct proc);
} procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, struct lset);
} listen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TAP_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} qpid SEC(".maps");

/* The last process that announced itself with a listener: the one for
 * frames that are not TCP (ARP, ICMP), which any stack answers. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} last SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flow_key);
	__type(value, __u32);
} owner SEC(".maps");

/* pid's process, if it announced itself within TAP_LIVE_NS. */
static __always_inline struct proc *live(__u32 pid, __u64 now)
{
	struct proc *p = pid ? bpf_map_lookup_elem(&procs, &pid) : 0;
	return p && now - p->ts < TAP_LIVE_NS ? p : 0;
}

static __always_inline int has_port(const __u16 *ports, __u32 n, __u16 port)
{
#pragma clang loop unroll(full)
	for (int i = 0; i < TAP_ANN_PORTS; i++)
		if ((__u32)i < n && ports[i] == port)
			return 1;
	return 0;
}

/* pid joins (on) or leaves the listeners of port. */
static __always_inline void lset_set(__u16 port, __u32 pid, int on, __u64 now)
{
	struct lset *l = bpf_map_lookup_elem(&listen, &port), z = {};
	int i, spot = -1;

	if (!l) {
		if (!on)
			return;
		bpf_map_update_elem(&listen, &port, &z, BPF_NOEXIST);
		if (!(l = bpf_map_lookup_elem(&listen, &port)))
			return;
	}
#pragma clang loop unroll(full)
	for (i = 0; i < TAP_LSET; i++) {
		if (l->pid[i] == pid) {
			if (!on)
				l->pid[i] = 0;
			return;
		}
		if (spot < 0 && (!l->pid[i] || !live(l->pid[i], now)))
			spot = i;
	}
	if (on && spot >= 0 && spot < TAP_LSET)
		l->pid[spot] = pid;
}

/* The process on queue hole leaves (its queue detaches next): tun moves
 * the last queue into the hole. Said at once for the live process that
 * announced the highest queue, rather than after its next announcement
 * (it corrects a wrong guess: a queue nobody announced from). */
static __always_inline void gone_moves(__u32 hole, __u64 now)
{
	struct proc *p;
	__u32 *qp, mover;

	for (__u32 i = 0; i < TAP_QUEUES; i++) {
		__u32 q = TAP_QUEUES - 1 - i;
		if (q <= hole)
			break;
		if (!(qp = bpf_map_lookup_elem(&qpid, &q)) || !(mover = *qp) || !(p = live(mover, now)) ||
		    p->queue != q)
			continue;
		p->queue = hole;
		if ((qp = bpf_map_lookup_elem(&qpid, &hole)))
			*qp = mover;
		break;
	}
}

static int announce(struct __sk_buff *skb, __u32 queue)
{
	struct tap_ann a;
	struct proc np = {}, *op, *prev;
	__u64 now = bpf_ktime_get_ns();
	__u32 *qp;
	int i;

	if (bpf_skb_load_bytes(skb, ETH_HLEN, &a, sizeof(a)) < 0 || a.magic != bpf_htonl(TAP_ANN_MAGIC) || !a.pid)
		return TC_ACT_SHOT;
	np.queue = queue;
	np.nports = a.nports > TAP_ANN_PORTS ? 0 : a.nports; /* TAP_ANN_GONE: none */
	np.ts = a.nports == TAP_ANN_GONE ? 0 : now;
#pragma clang loop unroll(full)
	for (i = 0; i < TAP_ANN_PORTS; i++)
		np.ports[i] = (__u32)i < np.nports ? a.ports[i] : 0;
	if ((op = bpf_map_lookup_elem(&procs, &a.pid))) {
#pragma clang loop unroll(full)
		for (i = 0; i < TAP_ANN_PORTS; i++)
			if ((__u32)i < op->nports && !has_port(np.ports, np.nports, op->ports[i]))
				lset_set(op->ports[i], a.pid, 0, now);
	}
#pragma clang loop unroll(full)
	for (i = 0; i < TAP_ANN_PORTS; i++)
		if ((__u32)i < np.nports)
			lset_set(np.ports[i], a.pid, 1, now);
	if (queue < TAP_QUEUES && (qp = bpf_map_lookup_elem(&qpid, &queue))) {
		/* whoever announced from this queue before left it (tun moved
		 * this process into its place): not live any more */
		if (*qp && *qp != a.pid && (prev = bpf_map_lookup_elem(&procs, qp)) && prev->queue == queue)
			prev->ts = 0;
		*qp = a.pid;
	}
	if (a.nports == TAP_ANN_GONE)
		gone_moves(queue, now);
	bpf_map_update_elem(&procs, &a.pid, &np, BPF_ANY);
	if (np.nports) {
		__u32 zero = 0;
		bpf_map_update_elem(&last, &zero, &a.pid, BPF_ANY);
	}
	return TC_ACT_SHOT;
}

/* IPv4 TCP at ETH_HLEN: the 4-tuple (source first, as on the wire) and
 * the flags byte; 0 if the frame is not one. */
static __always_inline int tcp_parse(struct __sk_buff *skb, struct flow_key *wire, __u8 *flags)
{
	__u16 proto;
	__u8 vihl, ipproto;
	__u16 frag;
	__u32 l4;

	if (bpf_skb_load_bytes(skb, 12, &proto, 2) < 0 || proto != bpf_htons(ETH_P_IP))
		return 0;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, &vihl, 1) < 0 ||
	    bpf_skb_load_bytes(skb, ETH_HLEN + 9, &ipproto, 1) < 0 || ipproto != IPPROTO_TCP ||
	    bpf_skb_load_bytes(skb, ETH_HLEN + 6, &frag, 2) < 0 || (frag & bpf_htons(0x1fff)))
		return 0;
	l4 = ETH_HLEN + (vihl & 0xf) * 4;
	if (bpf_skb_load_bytes(skb, ETH_HLEN + 12, &wire->laddr, 8) < 0 ||
	    bpf_skb_load_bytes(skb, l4, &wire->lport, 4) < 0 || bpf_skb_load_bytes(skb, l4 + 13, flags, 1) < 0)
		return 0;
	return 1;
}

SEC("tc")
int tap_learn(struct __sk_buff *skb)
{
	struct flow_key k;
	__u32 queue = skb->queue_mapping ? skb->queue_mapping - 1 : 0, *pid, *old;
	struct proc *p;
	__u16 proto;
	__u8 flags;

	if (bpf_skb_load_bytes(skb, 12, &proto, 2) == 0 && proto == bpf_htons(TAP_ANN_ETHERTYPE))
		return announce(skb, queue);
	if (!tcp_parse(skb, &k, &flags) || queue >= TAP_QUEUES)
		return TC_ACT_OK;
	if (!(pid = bpf_map_lookup_elem(&qpid, &queue)) || !*pid)
		return TC_ACT_OK;
	/* a process busy sending may announce late: what it sends keeps it live */
	if ((p = bpf_map_lookup_elem(&procs, pid)) && p->queue == queue && p->ts)
		p->ts = bpf_ktime_get_ns();
	old = bpf_map_lookup_elem(&owner, &k);
	if (!old || *old != *pid)
		bpf_map_update_elem(&owner, &k, pid, BPF_ANY);
	return TC_ACT_OK;
}

/* murmur3's finalizer over each word: every input bit reaches every output bit */
static __always_inline __u32 mix(__u32 h, __u32 v)
{
	h ^= v;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	return h ^ (h >> 16);
}

SEC("socket")
int tap_steer(struct __sk_buff *skb)
{
	struct flow_key w, k;
	struct proc *p;
	struct lset *l;
	__u64 now = bpf_ktime_get_ns();
	__u32 h, *pid, n = 0, pick;
	__u32 zero = 0;
	__u8 flags;
	int i;

	if (!tcp_parse(skb, &w, &flags))
		return (pid = bpf_map_lookup_elem(&last, &zero)) && (p = live(*pid, now)) ? p->queue : 0;
	/* from the kernel: the stack's address and port are the destination */
	k.laddr = w.raddr;
	k.raddr = w.laddr;
	k.lport = w.rport;
	k.rport = w.lport;
	h = mix(mix(mix(0x5eed, k.raddr), k.laddr), ((__u32)k.rport << 16) | k.lport);
	/* not a SYN: its owner's queue, if live */
	if ((!(flags & 0x02) || (flags & 0x10)) && (pid = bpf_map_lookup_elem(&owner, &k)) && (p = live(*pid, now)))
		return p->queue;
	/* the live listeners of its port */
	if (!(l = bpf_map_lookup_elem(&listen, &k.lport)))
		return h;
#pragma clang loop unroll(full)
	for (i = 0; i < TAP_LSET; i++)
		n += live(l->pid[i], now) != 0;
	if (!n)
		return h;
	pick = h % n;
#pragma clang loop unroll(full)
	for (i = 0; i < TAP_LSET; i++)
		if ((p = live(l->pid[i], now)) && !pick--)
			return p->queue;
	return h;
}

char _license[] SEC("license") = "GPL";
