/* The TCP control block and the table of connections of one stack
 * instance. Internal to stack/tcp/. */
#ifndef DEMI_TCP_TCB_H
#define DEMI_TCP_TCB_H

#include <stdint.h>

#include "../ipaddr.h"
#include "../net.h"
#include "../sock.h"
#include "../wire/tcp.h"
#include "cc.h"
#include "sack.h"
#include "seq.h"

enum tcp_state {
	TCP_STATE_CLOSED = 0,
	TCP_STATE_LISTEN,
	TCP_STATE_SYN_SENT,
	TCP_STATE_SYN_RECEIVED,
	TCP_STATE_ESTABLISHED,
	TCP_STATE_FIN_WAIT_1,
	TCP_STATE_FIN_WAIT_2,
	TCP_STATE_CLOSE_WAIT,
	TCP_STATE_CLOSING,
	TCP_STATE_LAST_ACK,
	TCP_STATE_TIME_WAIT,
	TCP_STATE_MAX
};

/* Classes of states, by name: code tests one state or one of these, never
 * the order of enum tcp_state. */

/* BSD TCPS_HAVERCVDSYN: the peer's SYN is in hand (IRS, RCV.NXT valid):
 * SYN-RECEIVED and every later state. */
static inline int tcp_state_have_rcvd_syn(int s) { return s >= TCP_STATE_SYN_RECEIVED; }
/* BSD TCPS_HAVEESTABLISHED: the handshake completed (options agreed, the
 * congestion window set): ESTABLISHED and every later state. */
static inline int tcp_state_have_established(int s) { return s >= TCP_STATE_ESTABLISHED; }
/* The handshake is under way: SYN-SENT or SYN-RECEIVED. */
static inline int tcp_state_opening(int s) { return s == TCP_STATE_SYN_SENT || s == TCP_STATE_SYN_RECEIVED; }
/* The application may queue data: no FIN of ours yet (ESTABLISHED, CLOSE-WAIT). */
static inline int tcp_state_can_send(int s) { return s == TCP_STATE_ESTABLISHED || s == TCP_STATE_CLOSE_WAIT; }
/* Data may still arrive: no FIN from the peer yet (ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2). */
static inline int tcp_state_can_recv(int s)
{
	return s == TCP_STATE_ESTABLISHED || s == TCP_STATE_FIN_WAIT_1 || s == TCP_STATE_FIN_WAIT_2;
}
/* We closed and our FIN (perhaps still queued behind data) is not
 * acknowledged yet: FIN-WAIT-1, CLOSING, LAST-ACK. */
static inline int tcp_state_fin_unacked(int s)
{
	return s == TCP_STATE_FIN_WAIT_1 || s == TCP_STATE_CLOSING || s == TCP_STATE_LAST_ACK;
}

#define TCP_DEF_MSS   536      /* RFC 9293 §3.7.1: no MSS option */
#define TCP_RTO_MIN_MS    200      /* as Linux */
#define TCP_RTO_MAX_MS    120000
#define TCP_RTO_INIT_MS   1000     /* RFC 6298 §2.1 */
#define TCP_DELACK_MS     40
#define TCP_SYN_RETRIES   6
#define TCP_RETRIES2      15
#define TCP_TIME_WAIT_MS  60000    /* 2*MSL, configurable in struct tcp_table */
#define TCP_RCVBUF_DEFAULT (256 * 1024)
#define TCP_SNDBUF_DEFAULT (256 * 1024)
#define TCP_BUF_MAX       (16 * 1024 * 1024)
#define TCP_BUF_AUTO_MAX  (4 * 1024 * 1024) /* autotuning's ceiling, as Linux's tcp_rmem/tcp_wmem */
#define TCP_WSCALE        8        /* ours: windows up to 16 MiB */
#define TCP_KEEPIDLE_S    7200
#define TCP_KEEPINTVL_S   75
#define TCP_DEF_KEEPCNT       9
#define TCP_OOO_MAX_PBUFS 512      /* reassembly queue bound per connection */
#define TCP_OUTPUT_BURST  32       /* segments one output pass sends: ACKs clock the rest */

/* tcb flags */
#define TF_WS_OK      (1u << 0)  /* window scaling agreed */
#define TF_TS_OK      (1u << 1)  /* timestamps agreed */
#define TF_SACK_OK    (1u << 2)  /* SACK agreed */
#define TF_NODELAY    (1u << 3)
#define TF_CORK       (1u << 4)
#define TF_MORE       (1u << 5)  /* the last send had MSG_MORE */
#define TF_KEEPALIVE  (1u << 6)
#define TF_FIN_QUEUED (1u << 7)  /* the application closed its sending side */
#define TF_ACK_NOW    (1u << 8)
#define TF_REUSEADDR  (1u << 9)
#define TF_REUSEPORT  (1u << 10)
#define TF_LINGER0    (1u << 11)
#define TF_BOUND      (1u << 12) /* holds its local port in the bind hash */
#define TF_RCV_SHUT   (1u << 13) /* no more data will be read (FIN, RST, SHUT_RD) */
#define TF_SND_SHUT   (1u << 14) /* no more data may be sent */
#define TF_IN_RECOVERY (1u << 15)
#define TF_RTT_TIMING (1u << 16) /* rtt_seq is being timed (no timestamps) */
#define TF_HASHED     (1u << 17) /* in the 4-tuple hash */
#define TF_ACCEPTQ    (1u << 18) /* on its listener's accept queue */
#define TF_COOKIE     (1u << 19) /* made from a SYN cookie */
#define TF_EPHEMERAL  (1u << 20) /* its port was picked by connect() */
#define TF_RCVBUF_LOCK (1u << 21) /* SO_RCVBUF set: no autotuning */
#define TF_SNDBUF_LOCK (1u << 22) /* SO_SNDBUF set: no autotuning */
#define TF_TLP_OUT    (1u << 23) /* a tail loss probe is unanswered */
#define TF_UNDO_OK    (1u << 24) /* recovery may still prove spurious (RFC 3522) */
#define TF_STEERED    (1u << 25) /* an active open whose 4-tuple the device steers to us (netif_steer) */
#define TF_DSACK_UNDO (1u << 26) /* the last recovery may be undone by D-SACKs (RFC 2883 §5) */
#define TF_RACK_REORD (1u << 27) /* the peer was seen to reorder (RFC 8985 RACK.reord) */
#define TF_DSACK_ROUND (1u << 28) /* reo_wnd was raised this round: rack_dsack_round is set */
#define TF_V6ONLY     (1u << 29) /* bound to :: with IPV6_V6ONLY: no IPv4 */
#define TF_ORPHAN     (1u << 30) /* a closed listener handing its connections over (handover.c) */

/* Fields that are also one named struct, so they can be copied whole
 * (Linux's struct_group): t->laddr and t->tw.laddr are the same bytes. */
#define TCB_GROUP(name, ...)                                                       \
	union {                                                                    \
		struct { __VA_ARGS__ };                                            \
		struct { __VA_ARGS__ } name;                                       \
	}

struct tcb {
	struct tcb *hnext;            /* 4-tuple hash chain */
	struct tcb *bnext;            /* bind (port) hash chain */
	struct tcb *next, *prev;      /* list of every TCB, for foreach and fini */
	struct stack *st;
	struct sock *sock;            /* NULL when the application let go */
	struct tcb *parent;           /* listener, while in its SYN or accept queue */
	struct tcb *qnext;            /* listener's SYN / accept queue link */
	/* What TIME-WAIT keeps of a connection, copied whole into the TCB that
	 * holds it (tcp_time_wait_clone): the 4-tuple, the edges of both
	 * sequence spaces (RFC 9293 §3.3.1) and the timestamp state, enough to
	 * answer a retransmitted FIN. */
	TCB_GROUP(tw,
		union ip_addr laddr, raddr;      /* v4-mapped for IPv4 (ipaddr.h) */
		uint16_t lport, rport;
		uint8_t snd_wscale, rcv_wscale;
		uint32_t iss, snd_una, snd_nxt, snd_max; /* send sequence space */
		uint32_t irs, rcv_nxt, rcv_adv;          /* receive; rcv_adv: right edge advertised */
		uint32_t last_ack_sent;
		uint32_t ts_recent, ts_offset;
		uint64_t ts_recent_age;                  /* ns */
	);
	uint8_t state;                /* TCP_STATE_*, written by tcp_set_state() only */
	uint8_t dupacks;
	uint8_t backoff;              /* RTO doublings */
	uint8_t keep_probes;
	uint32_t flags;               /* TF_* */
	int so_error;

	/* send sequence space, continued */
	uint32_t snd_wnd, snd_wl1, snd_wl2, max_snd_wnd;
	uint32_t recover, high_rxt, rtt_seq, fin_seq;
	uint64_t rtt_start;           /* ns */
	uint32_t recovery_extra;      /* NewReno inflation, bytes */
	uint16_t mss;                 /* send MSS (SMSS): payload of a full segment */
	uint16_t mss_clamp;           /* payload + options per segment */
	uint16_t rcv_mss;             /* largest segment seen / advertised to us */
	uint16_t peer_mss;            /* MSS option the peer sent */
	uint32_t unacked_segs;        /* full segments received since our last ACK */

	/* send buffer: bytes [snd_una, snd_una + sb_len) in a ring of sb_cap */
	uint8_t *sbuf;
	uint32_t sb_cap, sb_head, sb_len;
	uint32_t sndbuf, rcvbuf;
	uint32_t rcv_copied;          /* bytes the application read since rcv_tune_at */
	uint64_t rcv_tune_at;         /* ns */
	/* receive queue: in-order pbufs, data at the payload */
	struct pbuf *rq_head, *rq_tail;
	uint32_t rq_bytes, rq_pbufs;
	/* reassembly queue: sorted by seq (user[0]) */
	struct pbuf *ooo;
	uint32_t ooo_bytes, ooo_pbufs;
	/* RFC 2018 §4: the ranges out-of-order arrivals touched, latest first;
	 * an ACK reports the queue's blocks that hold them, in this order */
	struct { uint32_t s, e; } sack_mru[TCP_SACK_MAX_BLOCKS];
	uint8_t sack_mru_n;
	uint32_t dsack_s, dsack_e;    /* RFC 2883: data received twice, for the next ACK's first block */
	uint8_t dsack;                /* dsack_s..dsack_e is set */

	/* RTT (RFC 6298), microseconds */
	uint32_t srtt_us, rttvar_us, rto_ms;
	uint64_t last_send;           /* ns: for the idle restart */
	uint64_t last_rcv;            /* ns: for keepalive */
	uint32_t retransmits, total_retrans;
	uint32_t keepidle_s, keepintvl_s, keepcnt;
	/* TCP_USER_TIMEOUT (RFC 5482, as Linux): how long, in ms, sent data
	 * or window probes may go unacknowledged before the connection is
	 * aborted (0: the retry counts decide); since when they have */
	uint32_t user_timeout_ms;
	uint64_t rtx_since, probe_since;
	uint32_t linger_s;
	uint16_t user_mss;            /* TCP_MAXSEG: a cap on the MSS we offer and use; 0: none */

	struct tcp_cc cc;
	struct tcp_cc undo_cc;        /* the window before recovery, for its undo */
	uint32_t undo_seq, undo_tsval, undo_retrans; /* the first retransmission */
	uint32_t undo_fack;           /* the highest SACKed when recovery began */
	const struct tcp_cc_ops *cco;
	struct tcp_scoreboard sb;
	uint32_t undo_dsack_left;     /* retransmissions of the last recovery not yet D-SACKed */
	uint32_t undo_rxt_end;        /* the end of the highest of them */

	/* RACK-TLP (RFC 8985): when each range in flight was last sent, and
	 * the newest delivered transmission */
	struct tcp_txrec *txlog;      /* oldest first; allocated with the first send */
	uint16_t txlog_n;
	uint8_t rack_reo_mult;        /* reo_wnd in quarters of min_rtt; 0 counts as 1 */
	uint8_t rack_reo_persist;     /* recoveries left before reo_wnd_mult decays */
	uint64_t rack_xmit_ts;        /* ns: RACK.xmit_ts, 0: nothing delivered yet */
	uint32_t rack_end;            /* RACK.end_seq */
	uint32_t rack_order;          /* the send order of RACK's transmission (tcp_txrec.order) */
	uint32_t txlog_order;         /* the next record's order */
	uint32_t rack_rtt_us;         /* RACK.rtt */
	uint32_t rack_min_rtt_us;     /* the least RTT sample, 0: none yet */
	uint32_t rack_dsack_round;    /* RACK.dsack_round (valid with TF_DSACK_ROUND) */

	struct tw_timer rto_timer;    /* retransmission, persist, SYN-ACK, TIME_WAIT */
	struct tw_timer delack_timer;
	struct tw_timer keep_timer;
	uint8_t rto_kind;

	/* listener only */
	int backlog;
	uint32_t synq_len, acceptq_len;
	struct tcb *synq;             /* SYN-RECEIVED children */
	struct tcb *acceptq, *acceptq_tail;
};

enum tcp_rto_kind { TCP_TK_NONE, TCP_TK_RTO, TCP_TK_PERSIST, TCP_TK_TIME_WAIT, TCP_TK_TLP, TCP_TK_REO };

#define TCP_SBUF_MIN   4096
#define TCP_SBUF_CACHE 64

struct tcp_table {
	uint32_t nbuckets;            /* power of two */
	struct tcb **hash;            /* established, by 4-tuple */
	struct tcb **bhash;           /* by local port: listeners and bound sockets */
	struct tcb *all;
	uint32_t count;
	uint16_t next_ephemeral;
	uint32_t time_wait_ms;
	uint8_t opts_off;             /* TCP_OPTF_WS/TS/SACK_OK never used (like Linux's sysctls) */
	uint32_t orphans;             /* closed listeners handing over (handover.c) */
	uint32_t listen_gen;          /* moves when a listener opens or is orphaned */
	uint64_t challenge_tokens, challenge_last;
	uint8_t key[16];
	/* emptied send buffers of the smallest size, kept for the next send: a
	 * request/response connection empties its buffer at every ACK */
	uint8_t *sb_cache[TCP_SBUF_CACHE];
	unsigned sb_ncache;
	/* the same for RACK's transmission logs (rack.c) */
	struct tcp_txrec *txlog_cache[TCP_SBUF_CACHE];
	unsigned txlog_ncache;
};

/* segment being processed */
struct tcp_seg {
	struct tcp_hdr h;
	struct pbuf *p;               /* data at the payload, len = payload */
	uint32_t len;                 /* payload bytes */
	uint32_t seqlen;              /* payload + SYN + FIN */
	union ip_addr src, dst;
	uint32_t seq0;                /* seq as received, before trimming */
	int fin_in_order;             /* a FIN reached rcv_nxt (step 8) */
};

/* input verdicts */
enum { TCP_IN_CONTINUE = 0, TCP_IN_DONE = 1, TCP_IN_GONE = 2 /* TCB freed */ };

/* table.c */
uint32_t tcp_hash(const struct tcp_table *tt, const union ip_addr *laddr, uint16_t lport, const union ip_addr *raddr,
		  uint16_t rport);
struct tcb *tcp_lookup(struct stack *st, const union ip_addr *laddr, uint16_t lport, const union ip_addr *raddr,
		       uint16_t rport);
/* The listener for segments to laddr:lport: bound to laddr, else to
 * 0.0.0.0 (IPv4), else to :: (IPv6, and IPv4 without IPV6_V6ONLY). */
struct tcb *tcp_lookup_listener(struct stack *st, const union ip_addr *laddr, uint16_t lport);
void tcp_hash_insert(struct tcb *t);
void tcp_hash_remove(struct tcb *t);
void tcp_bind_insert(struct tcb *t);
void tcp_bind_remove(struct tcb *t);
int tcp_port_in_use(struct stack *st, const struct tcb *t, const union ip_addr *laddr, uint16_t port);
/* raddr NULL: a port for bind(0) / listen() at t->laddr. */
int tcp_ephemeral_port(struct stack *st, struct tcb *t, const union ip_addr *raddr, uint16_t rport);
/* The stack's own address in the family of a (IPv4 or IPv6). */
union ip_addr tcp_local_addr(const struct stack *st, const union ip_addr *a);
struct tcb *tcp_tcb_alloc(struct stack *st);
void tcp_tcb_free(struct tcb *t);   /* unlinks everything, frees buffers */
/* The only writer of t->state: counts the state entered, traces the change
 * at debug level, wakes the socket's waiters. */
void tcp_set_state(struct tcb *t, int state);
/* A socketless TCB in TIME-WAIT that takes over t's 4-tuple and port; NULL
 * when out of memory. */
struct tcb *tcp_time_wait_clone(struct tcb *t);
/* The connection ends: error (0: none) recorded for the socket, timers off,
 * buffers freed; the TCB itself is freed unless a socket still holds it. */
void tcp_done(struct tcb *t, int err);
void tcp_rcvq_purge(struct tcb *t);
/* Receive memory in use: payload, or half a buffer per pbuf held when
 * small segments pin more buffer than payload (Linux's truesize idea). */
uint32_t tcp_rcv_used(const struct tcb *t);

/* output.c */
void tcp_output(struct tcb *t);
int tcp_send_ctl(struct tcb *t, uint8_t flags, uint32_t seq); /* SYN, ACK, FIN-less control */
void tcp_send_ack(struct tcb *t);
/* SYN, or SYN-ACK in SYN-RECEIVED: 0, or ipv4_output's error (-EHOSTUNREACH). */
int tcp_send_syn(struct tcb *t);
/* SYN-ACK from a TCB in no state: the reply a SYN cookie carries. */
int tcp_send_synack(struct tcb *t);
void tcp_send_rst_for(struct stack *st, const struct tcp_seg *seg);
void tcp_send_rst(struct tcb *t);
/* Sends at most tcp_seg_room() bytes; returns the sequence space sent (0: none). */
int tcp_send_data(struct tcb *t, uint32_t seq, uint32_t len, uint8_t extra_flags);
uint32_t tcp_seg_room(const struct tcb *t);
uint32_t tcp_rcv_window(const struct tcb *t);
uint32_t tcp_flight(const struct tcb *t);
uint32_t tcp_ts_now(const struct tcb *t);
uint16_t tcp_mss_for_mtu(const struct stack *st);
/* The MSS this connection offers: the MTU's, capped by TCP_MAXSEG. */
uint16_t tcp_mss_ours(const struct tcb *t);
void tcp_sbuf_drop(struct tcb *t, uint32_t n);
int tcp_challenge_ok(struct stack *st);

/* timer.c */
void tcp_timers_init(struct tcb *t);
void tcp_timers_stop(struct tcb *t);
void tcp_rto_arm(struct tcb *t);
void tcp_rto_restart(struct tcb *t);
/* After sending data: the tail loss probe timer when it applies, else the RTO. */
void tcp_loss_timer_arm(struct tcb *t);
void tcp_delack_arm(struct tcb *t);
void tcp_keep_arm(struct tcb *t);
void tcp_persist_arm(struct tcb *t);
void tcp_time_wait_enter(struct tcb *t);
void tcp_rtt_sample(struct tcb *t, uint32_t rtt_us);

/* handover.c: a closed listener of a shared device hands its connections
 * to another process (1: l is now an orphan, keep it) */
int tcp_listener_orphan(struct tcb *l);
int tcp_handover_syn(struct tcb *l, const struct tcp_seg *seg);
int tcp_handover_seg(struct stack *st, const struct tcp_seg *seg);
int tcp_handover_not_mine(const struct tcb *t, const struct tcp_seg *seg);

/* input.c / synced.c */
int tcp_input_listen(struct tcb *l, struct tcp_seg *seg);
int tcp_input_syn_sent(struct tcb *t, struct tcp_seg *seg);
int tcp_input_synced(struct tcb *t, struct tcp_seg *seg);
void tcp_opts_apply_syn(struct tcb *t, const struct tcp_opts *o);
void tcp_established(struct tcb *t);
void tcp_reass_purge(struct tcb *t);
/* Fast retransmit of snd_una, recovery begins (RFC 6675 / RFC 6582). */
void tcp_in_enter_recovery(struct tcb *t);
/* RACK's loss marking; recovery when it reaches snd_una (RFC 8985 §6.2). */
void tcp_in_rack_loss(struct tcb *t);
void tcp_listener_child_ready(struct tcb *t);

/* sock.c */
void tcp_wake(struct tcb *t);

/* rack.c: RACK-TLP (RFC 8985) and received D-SACKs (RFC 2883) */
#define TCP_TXLOG_MAX 128 /* transmissions remembered; the oldest go first */
#define TCP_TXR_RETRANS 1 /* a retransmission */
#define TCP_TXR_LOST    2 /* a retransmission RACK found lost */
struct tcp_txrec {
	uint32_t s, e;   /* [s, e) sent together */
	uint32_t dlv;    /* the highest byte delivered (SACKed or acked), s when none */
	uint8_t flags;   /* TCP_TXR_* */
	uint32_t order;  /* send order: clock ticks may be coarser than sends */
	uint64_t ts;     /* ns */
};
/* [s, e) went out now: appended, older records of it superseded. */
void tcp_txlog_add(struct tcb *t, uint32_t s, uint32_t e, int retrans);
/* Forget what snd_una passed. */
void tcp_txlog_advance(struct tcb *t, uint32_t snd_una);
void tcp_txlog_free(struct tcb *t);
/* RACK applies: SACK agreed (without it, NewReno's dupthresh). */
int tcp_rack_on(const struct tcb *t);
/* An ACK up to ack with SACK blocks blk (before the scoreboard takes them):
 * counts and uses a D-SACK; returns 1 when blk[0] is one. */
int tcp_dsack_input(struct tcb *t, uint32_t ack, const struct tcp_sack_block *blk, int n);
/* RFC 8985 §6.2 steps 1-2: the newest transmission delivered by an ACK
 * to ack (the scoreboard already updated). */
void tcp_rack_update(struct tcb *t, uint32_t ack);
/* Steps 5-6: mark lost what a later delivery proves lost, arm the
 * reordering timer for the rest. Returns 1 when anything was marked. */
int tcp_rack_detect(struct tcb *t);
/* The reordering window in us (§6.2 step 4). */
uint32_t tcp_rack_reo_wnd(const struct tcb *t);
void tcp_rack_rtt_sample(struct tcb *t, uint32_t rtt_us);
/* A recovery ended: reo_wnd_mult decays after 16 of them. */
void tcp_rack_recovery_end(struct tcb *t);

#endif
