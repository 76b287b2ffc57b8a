/* SACK scoreboard and RFC 6675 loss recovery rules. Ranges are kept sorted
 * by their offset from snd_una, so sequence wrap needs no special case. */
#include <string.h>

#include "sack.h"
#include "seq.h"

void tcp_sb_reset(struct tcp_scoreboard *sb)
{
	sb->n = 0;
	sb->sacked_bytes = 0;
	sb->high_sacked = 0;
	sb->lost_valid = 0;
	sb->dupthresh = TCP_DUPTHRESH;
	sb->rack = 0;
}

void tcp_sb_mark_lost(struct tcp_scoreboard *sb, uint32_t end)
{
	if (!sb->lost_valid || seq_gt(end, sb->lost_end))
		sb->lost_end = end;
	sb->lost_valid = 1;
}

static void sb_recount(struct tcp_scoreboard *sb)
{
	sb->sacked_bytes = 0;
	for (int i = 0; i < sb->n; i++)
		sb->sacked_bytes += sb->r[i].end - sb->r[i].start;
	if (sb->n)
		sb->high_sacked = sb->r[sb->n - 1].end;
}

/* Insert [start, end) and merge what overlaps or touches. A full table
 * drops its lowest range: the highest information matters most to IsLost. */
static void sb_insert(struct tcp_scoreboard *sb, uint32_t una, uint32_t start, uint32_t end)
{
	struct tcp_sack_block tmp[TCP_SB_MAX + 1];
	int n = 0, placed = 0;

	for (int i = 0; i < sb->n; i++) {
		struct tcp_sack_block r = sb->r[i];
		if (!placed && r.start - una > start - una) {
			tmp[n++] = (struct tcp_sack_block){ start, end };
			placed = 1;
		}
		tmp[n++] = r;
	}
	if (!placed)
		tmp[n++] = (struct tcp_sack_block){ start, end };
	/* merge neighbours */
	int m = 0;
	for (int i = 0; i < n; i++) {
		if (m && seq_leq(tmp[i].start, tmp[m - 1].end)) {
			if (seq_gt(tmp[i].end, tmp[m - 1].end))
				tmp[m - 1].end = tmp[i].end;
		} else {
			tmp[m++] = tmp[i];
		}
	}
	int drop = m > TCP_SB_MAX ? m - TCP_SB_MAX : 0;
	memcpy(sb->r, tmp + drop, (size_t)(m - drop) * sizeof(tmp[0]));
	sb->n = m - drop;
}

uint32_t tcp_sb_update(struct tcp_scoreboard *sb, uint32_t snd_una, uint32_t snd_nxt,
		       const struct tcp_sack_block *blk, int nblk)
{
	uint32_t before = sb->sacked_bytes;

	tcp_sb_advance(sb, snd_una);
	for (int i = 0; i < nblk; i++) {
		uint32_t s = blk[i].start, e = blk[i].end;
		/* RFC 2018: a block must lie in (snd_una, snd_nxt]; below una it is a D-SACK */
		if (!seq_lt(s, e) || seq_leq(e, snd_una) || seq_gt(e, snd_nxt))
			continue;
		if (seq_lt(s, snd_una))
			s = snd_una;
		sb_insert(sb, snd_una, s, e);
	}
	sb_recount(sb);
	return sb->sacked_bytes > before ? sb->sacked_bytes - before : 0;
}

void tcp_sb_advance(struct tcp_scoreboard *sb, uint32_t snd_una)
{
	int k = 0;
	for (int i = 0; i < sb->n; i++) {
		if (seq_leq(sb->r[i].end, snd_una))
			continue;
		sb->r[k] = sb->r[i];
		if (seq_lt(sb->r[k].start, snd_una))
			sb->r[k].start = snd_una;
		k++;
	}
	sb->n = k;
	if (sb->lost_valid && seq_leq(sb->lost_end, snd_una))
		sb->lost_valid = 0;
	sb_recount(sb);
}

int tcp_sb_is_sacked(const struct tcp_scoreboard *sb, uint32_t start, uint32_t end)
{
	for (int i = 0; i < sb->n; i++)
		if (seq_leq(sb->r[i].start, start) && seq_leq(end, sb->r[i].end))
			return 1;
	return 0;
}

int tcp_sb_dupthresh_met(const struct tcp_scoreboard *sb, uint32_t seq, uint32_t mss)
{
	uint32_t bytes = 0;
	int ranges = 0;
	for (int i = sb->n - 1; i >= 0; i--) {
		const struct tcp_sack_block *r = &sb->r[i];
		if (seq_leq(r->end, seq))
			break;
		bytes += r->end - (seq_gt(r->start, seq) ? r->start : seq + 1);
		ranges++;
	}
	return ranges >= (int)sb->dupthresh || bytes > (sb->dupthresh - 1) * mss;
}

/* RFC 6675 §4 IsLost(SeqNum): DupThresh discontiguous SACKed sequences above
 * SeqNum, or more than (DupThresh - 1) * SMSS bytes SACKed above it; with
 * RACK, only what its timing marked (RFC 8985 replaces the count). */
int tcp_sb_is_lost(const struct tcp_scoreboard *sb, uint32_t seq, uint32_t mss)
{
	if (sb->lost_valid && seq_lt(seq, sb->lost_end))
		return 1;
	return !sb->rack && tcp_sb_dupthresh_met(sb, seq, mss);
}

/* The unSACKed stretch starting at s, cut at mss, the next SACKed range and end. */
static uint32_t sb_hole_len(const struct tcp_scoreboard *sb, uint32_t s, uint32_t end, uint32_t mss)
{
	uint32_t e = seq_lt(s + mss, end) ? s + mss : end;
	for (int i = 0; i < sb->n; i++)
		if (seq_gt(sb->r[i].start, s) && seq_lt(sb->r[i].start, e))
			e = sb->r[i].start;
	return e - s;
}

/* Skip forward past SACKed bytes from s. */
static uint32_t sb_skip_sacked(const struct tcp_scoreboard *sb, uint32_t s)
{
	for (int i = 0; i < sb->n; i++)
		if (seq_leq(sb->r[i].start, s) && seq_lt(s, sb->r[i].end))
			s = sb->r[i].end;
	return s;
}

uint32_t tcp_sb_pipe(const struct tcp_scoreboard *sb, uint32_t snd_una, uint32_t snd_nxt,
		     uint32_t high_rxt, uint32_t mss)
{
	uint32_t pipe = 0, s = snd_una;
	/* RFC 6675 §4 SetPipe, by runs of at most mss unSACKed octets */
	while (seq_lt(s = sb_skip_sacked(sb, s), snd_nxt)) {
		uint32_t len = sb_hole_len(sb, s, snd_nxt, mss);
		if (!tcp_sb_is_lost(sb, s, mss))
			pipe += len;               /* (a) still believed in flight */
		if (seq_lt(s, high_rxt))
			pipe += len;               /* (b) retransmitted copy in flight */
		s += len;
	}
	return pipe;
}

int tcp_sb_next_seg(const struct tcp_scoreboard *sb, uint32_t snd_una, uint32_t snd_nxt,
		    uint32_t high_rxt, uint32_t mss, uint32_t *seq, uint32_t *len)
{
	uint32_t s;
	if (sb->n == 0)
		return -1;
	s = seq_gt(high_rxt, snd_una) ? high_rxt : snd_una;
	s = sb_skip_sacked(sb, s);
	/* rules 1 and 3 look only below the highest SACKed octet */
	if (!seq_lt(s, sb->high_sacked) || !seq_lt(s, snd_nxt))
		return -1;
	*seq = s;
	*len = sb_hole_len(sb, s, sb->high_sacked, mss);
	return tcp_sb_is_lost(sb, s, mss) ? 1 : 3;
}
