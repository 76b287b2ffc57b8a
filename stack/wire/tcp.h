/* TCP header and options (RFC 9293 §3.1, RFC 7323, RFC 2018): parse with
 * every length checked, emit with the options TCP sends, and the checksum
 * over the IPv4 pseudo-header. */
#ifndef DEMI_WIRE_TCP_H
#define DEMI_WIRE_TCP_H

#include <stddef.h>
#include <stdint.h>

#define TCP_HDR_LEN     20
#define TCP_HDR_MAX     60
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80

#define TCP_OPT_EOL     0
#define TCP_OPT_NOP     1
#define TCP_OPT_MSS     2
#define TCP_OPT_WS      3
#define TCP_OPT_SACK_OK 4
#define TCP_OPT_SACK    5
#define TCP_OPT_TS      8

/* which options a struct tcp_opts holds */
#define TCP_OPTF_MSS     (1u << 0)
#define TCP_OPTF_WS      (1u << 1)
#define TCP_OPTF_SACK_OK (1u << 2)
#define TCP_OPTF_TS      (1u << 3)
#define TCP_OPTF_SACK    (1u << 4)

#define TCP_SACK_MAX_BLOCKS 4 /* 4 * 8 + 2 = 34 bytes: what fits in 40 */

struct tcp_opts {
	uint8_t has;    /* TCP_OPTF_* */
	uint8_t wscale; /* shift count as sent (parse: clamped to 14, RFC 7323 §2.3) */
	uint16_t mss;
	uint32_t tsval, tsecr;
	uint8_t nsack;
	struct { uint32_t start, end; } sack[TCP_SACK_MAX_BLOCKS];
};

struct tcp_hdr {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t off; /* header length in bytes, options included */
	uint8_t flags;
	uint16_t wnd, cksum, urp;
	struct tcp_opts opt;
};

enum tcp_parse_err {
	TCP_ERR_SHORT = 1, /* fewer than 20 bytes */
	TCP_ERR_OFF,       /* data offset < 5 or beyond the segment */
	TCP_ERR_OPT,       /* an option with a bad length or running past the header */
	TCP_ERR_CKSUM,     /* checksum wrong */
};

/* buf/len: the whole segment (IP payload). Checks the checksum over the
 * pseudo-header when verify_cksum. 0 or -TCP_ERR_*. */
int tcp_hdr_parse(const uint8_t *buf, size_t len, uint32_t src, uint32_t dst, int verify_cksum,
		  struct tcp_hdr *h);
/* Options only: p/len the option bytes. 0 or -TCP_ERR_OPT. Unknown options
 * with a sane length are skipped. */
int tcp_opts_parse(const uint8_t *p, size_t len, struct tcp_opts *o);
/* Bytes the options take when emitted (a multiple of 4, at most 40). */
size_t tcp_opts_len(const struct tcp_opts *o);
/* Writes the header and options (h->off is ignored: computed) with a zero
 * checksum field; returns the header length. Layout as Linux: SYN with
 * MSS, SACK-permitted+TS (or NOP NOP SACK-permitted), NOP WS; otherwise NOP
 * NOP TS, then NOP NOP SACK blocks. */
size_t tcp_hdr_emit(uint8_t *buf, const struct tcp_hdr *h);
/* Fill the checksum of the segment buf[0..len): the full checksum, or with
 * offload only the pseudo-header sum (folded, not complemented), which the
 * device completes. */
void tcp_cksum_set(uint8_t *buf, size_t len, uint32_t src, uint32_t dst, int offload);

#endif
