/* demi-pingpong: the floor under the stack. Raw frames through the DPDK
 * driver (netif/dpdk.c, zero copy), no protocol at all.
 *
 *   demi-pingpong -d DEVICE [-e EAL_ARGS] [-t SECS] MODE
 *     bounce                 send every frame back (MACs swapped)
 *     ping [-n COUNT] [-s SIZE]
 *                            one frame in flight: round trip p50/p99, rate
 *     blast [-s SIZE]        bursts of 32 frames as fast as the device takes them
 *     count                  count frames received: frames/s
 *
 * Run bounce or count as the memif server first, ping or blast as the
 * client. Busy-polls: keep runs short (-t). Last line: "RESULT ...". */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "demi/log.h"
#include "netif/dpdk.h"

#define BURST 32

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* A frame of `size` bytes: broadcast, an experimental ethertype, seq at 14. */
static struct pbuf *frame(struct netif *nif, size_t size, uint64_t seq)
{
	struct pbuf *p = pbuf_alloc(nif->pool);
	uint8_t *d;
	if (!p)
		return NULL;
	if (!(d = pbuf_append(p, (uint32_t)size))) {
		pbuf_free(p);
		return NULL;
	}
	memset(d, 0xff, 6);
	memcpy(d + 6, nif->mac, 6);
	d[12] = 0x88;
	d[13] = 0xb5; /* IEEE local experimental */
	memcpy(d + 14, &seq, 8);
	return p;
}

static int run_bounce(struct netif *nif, uint64_t deadline)
{
	struct pbuf *pk[BURST];
	uint64_t n = 0;
	while (!stop && now_ns() < deadline) {
		uint16_t got = netif_rx_burst(nif, pk, BURST), sent;
		for (uint16_t i = 0; i < got; i++) {
			uint8_t tmp[6], *d = pk[i]->data;
			memcpy(tmp, d, 6);
			memcpy(d, d + 6, 6);
			memcpy(d + 6, tmp, 6);
		}
		sent = got ? netif_tx_burst(nif, pk, got) : 0;
		for (uint16_t i = sent; i < got; i++)
			pbuf_free(pk[i]);
		n += got;
	}
	printf("RESULT mode=bounce frames=%llu\n", (unsigned long long)n);
	return 0;
}

static int run_ping(struct netif *nif, uint64_t count, size_t size, uint64_t deadline)
{
	uint64_t *rtt = calloc(count ? count : 1, sizeof(*rtt)), done = 0, t0, t1;
	struct pbuf *pk[BURST];
	/* warm-up: the peer and the link come up */
	for (uint64_t w = 0; w < 2000 && !stop && now_ns() < deadline; w++) {
		struct pbuf *p = frame(nif, size, UINT64_MAX);
		uint64_t until = now_ns() + 1000000;
		int back = 0;
		if (p && netif_tx_burst(nif, &p, 1) != 1)
			pbuf_free(p);
		while (!back && now_ns() < until) {
			uint16_t got = netif_rx_burst(nif, pk, BURST);
			for (uint16_t i = 0; i < got; i++)
				pbuf_free(pk[i]);
			back = got > 0;
		}
		if (back && w > 100)
			break;
	}
	t0 = now_ns();
	while (done < count && !stop && now_ns() < deadline) {
		struct pbuf *p = frame(nif, size, done);
		uint64_t a = now_ns(), seq;
		int back = 0;
		if (!p || netif_tx_burst(nif, &p, 1) != 1) {
			pbuf_free(p);
			continue;
		}
		while (!back && !stop && now_ns() - a < 100000000ull) {
			uint16_t got = netif_rx_burst(nif, pk, BURST);
			for (uint16_t i = 0; i < got; i++) {
				memcpy(&seq, pk[i]->data + 14, 8);
				back |= seq == done;
				pbuf_free(pk[i]);
			}
		}
		if (back)
			rtt[done++] = now_ns() - a;
	}
	t1 = now_ns();
	qsort(rtt, done, sizeof(*rtt), cmp_u64);
	printf("RESULT mode=ping count=%llu size=%zu", (unsigned long long)done, size);
	if (done)
		printf(" rtt_p50_us=%.3f rtt_p99_us=%.3f rtt_per_s=%.0f", rtt[done / 2] / 1e3,
		       rtt[done * 99 / 100] / 1e3, (double)done / ((double)(t1 - t0) / 1e9));
	printf(" ok=%d\n", done == count);
	free(rtt);
	return done == count ? 0 : 1;
}

static int run_blast(struct netif *nif, size_t size, uint64_t deadline)
{
	struct pbuf *pk[BURST];
	uint64_t sent = 0, t0 = now_ns(), t1;
	while (!stop && now_ns() < deadline) {
		uint16_t n = 0, s;
		while (n < BURST && (pk[n] = frame(nif, size, sent + n)))
			n++;
		s = netif_tx_burst(nif, pk, n);
		for (uint16_t i = s; i < n; i++)
			pbuf_free(pk[i]);
		sent += s;
	}
	t1 = now_ns();
	printf("RESULT mode=blast frames=%llu mpps=%.3f\n", (unsigned long long)sent,
	       (double)sent / ((double)(t1 - t0) / 1e9) / 1e6);
	return 0;
}

static int run_count(struct netif *nif, uint64_t deadline)
{
	struct pbuf *pk[BURST];
	uint64_t n = 0, first = 0, last = 0;
	while (!stop && now_ns() < deadline) {
		uint16_t got = netif_rx_burst(nif, pk, BURST);
		if (!got)
			continue;
		last = now_ns();
		if (!n)
			first = last;
		n += got;
		for (uint16_t i = 0; i < got; i++)
			pbuf_free(pk[i]);
	}
	printf("RESULT mode=count frames=%llu mpps=%.3f\n", (unsigned long long)n,
	       last > first ? (double)n / ((double)(last - first) / 1e9) / 1e6 : 0.0);
	return n ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct dpdk_open_cfg cfg = { .name = "demi-pingpong" };
	struct netif *nif;
	char err[512];
	uint64_t count = 100000, secs = 10, deadline;
	size_t size = 64;
	int opt, rc;
	const char *mode;

	demi_log_stderr(); /* the driver's lines, as DEMI_LOG asks */
	while ((opt = getopt(argc, argv, "+d:e:t:n:s:")) != -1) {
		switch (opt) {
		case 'd': cfg.device = optarg; break;
		case 'e': cfg.eal_args = optarg; break;
		case 't': secs = strtoull(optarg, NULL, 0); break;
		case 'n': count = strtoull(optarg, NULL, 0); break;
		case 's': size = strtoull(optarg, NULL, 0); break;
		default: goto usage;
		}
	}
	if (!cfg.device || optind >= argc)
		goto usage;
	mode = argv[optind];
	/* options may also follow the mode */
	optind++;
	while ((opt = getopt(argc, argv, "t:n:s:")) != -1) {
		switch (opt) {
		case 't': secs = strtoull(optarg, NULL, 0); break;
		case 'n': count = strtoull(optarg, NULL, 0); break;
		case 's': size = strtoull(optarg, NULL, 0); break;
		default: goto usage;
		}
	}
	if (size < 60)
		size = 60;
	if (size > 1514)
		size = 1514;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if ((rc = dpdk_netif_open(&nif, &cfg, err, sizeof(err))) != 0) {
		fprintf(stderr, "demi-pingpong: %s\n", err);
		return 2;
	}
	deadline = now_ns() + secs * 1000000000ull;
	if (!strcmp(mode, "bounce"))
		rc = run_bounce(nif, deadline);
	else if (!strcmp(mode, "ping"))
		rc = run_ping(nif, count, size, deadline);
	else if (!strcmp(mode, "blast"))
		rc = run_blast(nif, size, deadline);
	else if (!strcmp(mode, "count"))
		rc = run_count(nif, deadline);
	else
		goto usage;
	fflush(stdout);
	nif->ops->close(nif);
	return rc;
usage:
	fprintf(stderr, "usage: demi-pingpong -d DEVICE [-e EAL_ARGS] [-t SECS] bounce|ping [-n N] [-s SIZE]|blast [-s SIZE]|count\n");
	return 2;
}
