/* The sender's SACK scoreboard (RFC 2018) and the RFC 6675 loss-recovery
 * rules built on it: IsLost, SetPipe, NextSeg. Bounded: at most
 * TCP_SB_MAX disjoint ranges (the oldest information is dropped first). */
#ifndef DEMI_TCP_SACK_H
#define DEMI_TCP_SACK_H

#include <stdint.h>

#define TCP_SB_MAX      32
#define TCP_DUPTHRESH   3
#define TCP_REORDER_MAX 127 /* the most DupThresh grows to (Linux: 300) */

struct tcp_sack_block {
	uint32_t start, end; /* [start, end) */
};

struct tcp_scoreboard {
	struct tcp_sack_block r[TCP_SB_MAX]; /* disjoint, sorted by seq */
	int n;
	uint32_t sacked_bytes;
	uint32_t high_sacked; /* highest end SACKed; valid when n > 0 */
	uint32_t lost_end;    /* unSACKed bytes below it are lost (RACK's verdict) */
	int lost_valid;
	uint32_t dupthresh;   /* segments SACKed above a hole that make it lost: TCP_DUPTHRESH,
			       * raised when the path proves to reorder more (RFC 4653 §3) */
	int rack;             /* RACK marks losses (lost_end): IsLost counts no SACKs (RFC 8985 §6) */
};

void tcp_sb_reset(struct tcp_scoreboard *sb);
/* RFC 6675's DupThresh rule alone: DupThresh discontiguous SACKed ranges
 * above seq, or more than (DupThresh - 1) * mss bytes. */
int tcp_sb_dupthresh_met(const struct tcp_scoreboard *sb, uint32_t seq, uint32_t mss);
/* Merge the blocks of one ACK; ranges at or below snd_una are forgotten,
 * blocks outside (snd_una, snd_nxt] are ignored (RFC 2018 validity).
 * Returns the bytes newly SACKed. */
uint32_t tcp_sb_update(struct tcp_scoreboard *sb, uint32_t snd_una, uint32_t snd_nxt,
		       const struct tcp_sack_block *blk, int nblk);
/* snd_una advanced: forget what lies below it. */
void tcp_sb_advance(struct tcp_scoreboard *sb, uint32_t snd_una);
/* Every byte of [start, end) is SACKed. */
int tcp_sb_is_sacked(const struct tcp_scoreboard *sb, uint32_t start, uint32_t end);
/* Every unSACKed byte below end is lost, whatever IsLost's count says. */
void tcp_sb_mark_lost(struct tcp_scoreboard *sb, uint32_t end);
/* RFC 6675 IsLost(seq), or below the lost mark. */
int tcp_sb_is_lost(const struct tcp_scoreboard *sb, uint32_t seq, uint32_t mss);
/* RFC 6675 SetPipe: bytes estimated in flight. */
uint32_t tcp_sb_pipe(const struct tcp_scoreboard *sb, uint32_t snd_una, uint32_t snd_nxt,
		     uint32_t high_rxt, uint32_t mss);
/* RFC 6675 NextSeg rules 1 and 3 (rule 2, new data, is the caller's): the
 * first unSACKed range above HighRxt and below the highest SACKed byte,
 * [*seq, *seq + *len), at most mss bytes. Returns 1 when IsLost holds for it
 * (rule 1: send it before new data), 3 when it does not (rule 3: send it only
 * if there is no new data), -1 when there is no such range. */
int tcp_sb_next_seg(const struct tcp_scoreboard *sb, uint32_t snd_una, uint32_t snd_nxt,
		    uint32_t high_rxt, uint32_t mss, uint32_t *seq, uint32_t *len);

#endif
