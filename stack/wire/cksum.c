#include <string.h>

#include "cksum.h"

/* RFC 1071 §2(B): the one's complement sum does not depend on byte order.
 * The bytes are summed as native 32-bit words into a 64-bit accumulator
 * (the carries gather in its top half), folded to 16 bits, and swapped to
 * the big-endian words the rest of the code adds. A trailing odd byte is
 * the high byte of a last word padded with zero, as before. */
uint32_t cksum_partial(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	uint64_t acc = 0;
	uint32_t w[8];
	uint16_t s;

	for (; len >= sizeof(w); p += sizeof(w), len -= sizeof(w)) {
		memcpy(w, p, sizeof(w));
		acc += (uint64_t)w[0] + w[1] + w[2] + w[3] + w[4] + w[5] + w[6] + w[7];
	}
	for (; len >= 4; p += 4, len -= 4) {
		memcpy(w, p, 4);
		acc += w[0];
	}
	if (len >= 2) {
		uint16_t h;
		memcpy(&h, p, 2);
		acc += h;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint16_t h = 0;
		memcpy(&h, p, 1); /* the byte first in memory, the zero after it */
		acc += h;
	}
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffu) + (acc >> 16);
	acc = (acc & 0xffffu) + (acc >> 16);
	acc = (acc & 0xffffu) + (acc >> 16);
	s = (uint16_t)acc;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	s = (uint16_t)(s >> 8 | s << 8);
#endif
	acc = (uint64_t)sum + s;
	return (uint32_t)((acc & 0xffffffffu) + (acc >> 32));
}

uint16_t cksum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint32_t cksum_pseudo_ipv4(uint32_t src, uint32_t dst, uint8_t proto, uint16_t l4_len)
{
	uint64_t acc = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + l4_len;
	while (acc >> 32)
		acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}

uint32_t cksum_pseudo_ipv6(const void *src, const void *dst, uint8_t proto, uint32_t l4_len)
{
	uint32_t sum = cksum_partial(src, 16, 0);
	uint64_t acc = (uint64_t)cksum_partial(dst, 16, sum) + (l4_len >> 16) + (l4_len & 0xffff) + proto;
	while (acc >> 32)
		acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}
