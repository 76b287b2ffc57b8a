/* TCP header and option parse/emit, and the checksum. */
#include <string.h>

#include "cksum.h"
#include "tcp.h"

static int tcp_opt_one(const uint8_t *p, uint8_t kind, uint8_t olen, struct tcp_opts *o)
{
	switch (kind) {
	case TCP_OPT_MSS:
		if (olen != 4)
			return -TCP_ERR_OPT;
		o->has |= TCP_OPTF_MSS;
		o->mss = rd16(p + 2);
		return 0;
	case TCP_OPT_WS:
		if (olen != 3)
			return -TCP_ERR_OPT;
		o->has |= TCP_OPTF_WS;
		o->wscale = p[2] > 14 ? 14 : p[2]; /* RFC 7323 §2.3 */
		return 0;
	case TCP_OPT_SACK_OK:
		if (olen != 2)
			return -TCP_ERR_OPT;
		o->has |= TCP_OPTF_SACK_OK;
		return 0;
	case TCP_OPT_TS:
		if (olen != 10)
			return -TCP_ERR_OPT;
		o->has |= TCP_OPTF_TS;
		o->tsval = rd32(p + 2);
		o->tsecr = rd32(p + 6);
		return 0;
	case TCP_OPT_SACK:
		if (olen < 10 || (olen - 2) % 8)
			return -TCP_ERR_OPT;
		o->has |= TCP_OPTF_SACK;
		o->nsack = 0;
		for (int i = 2; i < olen && o->nsack < TCP_SACK_MAX_BLOCKS; i += 8, o->nsack++) {
			o->sack[o->nsack].start = rd32(p + i);
			o->sack[o->nsack].end = rd32(p + i + 4);
		}
		return 0;
	default:
		return 0; /* unknown: skipped by its length */
	}
}

int tcp_opts_parse(const uint8_t *p, size_t len, struct tcp_opts *o)
{
	size_t i = 0;
	memset(o, 0, offsetof(struct tcp_opts, sack));
	while (i < len) {
		uint8_t kind = p[i], olen;
		if (kind == TCP_OPT_EOL)
			break;
		if (kind == TCP_OPT_NOP) {
			i++;
			continue;
		}
		if (i + 2 > len)
			return -TCP_ERR_OPT;
		olen = p[i + 1];
		if (olen < 2 || i + olen > len)
			return -TCP_ERR_OPT;
		if (tcp_opt_one(p + i, kind, olen, o))
			return -TCP_ERR_OPT;
		i += olen;
	}
	return 0;
}

int tcp_hdr_parse(const uint8_t *buf, size_t len, uint32_t src, uint32_t dst, int verify_cksum,
		  struct tcp_hdr *h)
{
	if (len < TCP_HDR_LEN)
		return -TCP_ERR_SHORT;
	h->off = (uint8_t)((buf[12] >> 4) * 4);
	if (h->off < TCP_HDR_LEN || h->off > len)
		return -TCP_ERR_OFF;
	if (verify_cksum && len <= 0xffff &&
	    cksum_fold(cksum_partial(buf, len, cksum_pseudo_ipv4(src, dst, 6, (uint16_t)len))) != 0)
		return -TCP_ERR_CKSUM;
	h->sport = rd16(buf);
	h->dport = rd16(buf + 2);
	h->seq = rd32(buf + 4);
	h->ack = rd32(buf + 8);
	h->flags = buf[13];
	h->wnd = rd16(buf + 14);
	h->cksum = rd16(buf + 16);
	h->urp = rd16(buf + 18);
	return tcp_opts_parse(buf + TCP_HDR_LEN, h->off - TCP_HDR_LEN, &h->opt);
}

size_t tcp_opts_len(const struct tcp_opts *o)
{
	size_t n = 0;
	if (o->has & TCP_OPTF_MSS)
		n += 4;
	if (o->has & TCP_OPTF_TS)
		n += 12;
	else if (o->has & TCP_OPTF_SACK_OK)
		n += 4;
	if (o->has & TCP_OPTF_WS)
		n += 4;
	if ((o->has & TCP_OPTF_SACK) && o->nsack) {
		int max = (int)((40 - n - 4) / 8), k = o->nsack < max ? o->nsack : max;
		if (k > 0)
			n += 4 + 8 * (size_t)k;
	}
	return n;
}

static uint8_t *tcp_opts_emit(uint8_t *p, const struct tcp_opts *o)
{
	size_t used = 0;
	if (o->has & TCP_OPTF_MSS) {
		p[0] = TCP_OPT_MSS, p[1] = 4;
		wr16(p + 2, o->mss);
		p += 4, used += 4;
	}
	if (o->has & TCP_OPTF_TS) {
		if (o->has & TCP_OPTF_SACK_OK)
			p[0] = TCP_OPT_SACK_OK, p[1] = 2;
		else
			p[0] = TCP_OPT_NOP, p[1] = TCP_OPT_NOP;
		p[2] = TCP_OPT_TS, p[3] = 10;
		wr32(p + 4, o->tsval);
		wr32(p + 8, o->tsecr);
		p += 12, used += 12;
	} else if (o->has & TCP_OPTF_SACK_OK) {
		p[0] = TCP_OPT_NOP, p[1] = TCP_OPT_NOP, p[2] = TCP_OPT_SACK_OK, p[3] = 2;
		p += 4, used += 4;
	}
	if (o->has & TCP_OPTF_WS) {
		p[0] = TCP_OPT_NOP, p[1] = TCP_OPT_WS, p[2] = 3, p[3] = o->wscale;
		p += 4, used += 4;
	}
	if ((o->has & TCP_OPTF_SACK) && o->nsack) {
		int max = (int)((40 - used - 4) / 8), k = o->nsack < max ? o->nsack : max;
		if (k > 0) {
			p[0] = TCP_OPT_NOP, p[1] = TCP_OPT_NOP, p[2] = TCP_OPT_SACK;
			p[3] = (uint8_t)(2 + 8 * k);
			p += 4;
			for (int i = 0; i < k; i++, p += 8) {
				wr32(p, o->sack[i].start);
				wr32(p + 4, o->sack[i].end);
			}
		}
	}
	return p;
}

size_t tcp_hdr_emit(uint8_t *buf, const struct tcp_hdr *h)
{
	size_t off = TCP_HDR_LEN + (size_t)(tcp_opts_emit(buf + TCP_HDR_LEN, &h->opt) - (buf + TCP_HDR_LEN));
	wr16(buf, h->sport);
	wr16(buf + 2, h->dport);
	wr32(buf + 4, h->seq);
	wr32(buf + 8, h->ack);
	buf[12] = (uint8_t)((off / 4) << 4);
	buf[13] = h->flags;
	wr16(buf + 14, h->wnd);
	wr16(buf + 16, 0);
	wr16(buf + 18, h->urp);
	return off;
}

void tcp_cksum_set(uint8_t *buf, size_t len, uint32_t src, uint32_t dst, int offload)
{
	uint32_t sum = cksum_pseudo_ipv4(src, dst, 6, (uint16_t)len);
	wr16(buf + 16, 0);
	if (offload) {
		sum = (sum & 0xffff) + (sum >> 16);
		sum = (sum & 0xffff) + (sum >> 16);
		wr16(buf + 16, (uint16_t)sum);
	} else {
		wr16(buf + 16, cksum_fold(cksum_partial(buf, len, sum)));
	}
}
