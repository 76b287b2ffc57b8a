/* impair: a two-port Ethernet relay that loses, reorders, duplicates,
 * corrupts and delays frames, for tests on real devices where the kernel has
 * no netem qdisc. It joins two interfaces (say the kernel end of a tap and a
 * veth into a peer namespace) with AF_PACKET sockets and forwards every frame
 * each way, applying the faults asked for.
 *
 *   impair [-l LOSS%] [-r REORDER%] [-d DUP%] [-c CORRUPT%] [-D DELAY_US]
 *          [-R REORDER_US] [-s SEED] [-o a2b|b2a|both] IF_A IF_B
 *
 * Runs until SIGINT or SIGTERM, then prints what it did per direction. The
 * interfaces should carry no address of their own and have GRO/TSO off, so
 * frames cross at their wire size. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IMPAIR_FRAME_MAX 9216
#define IMPAIR_HELD_MAX  4096

struct impair_faults {
	uint32_t loss, reorder, dup, corrupt; /* parts per million */
	uint64_t delay_ns, reorder_ns;
};

struct impair_stats {
	uint64_t rx, tx, lost, reordered, duplicated, corrupted, overflow;
};

struct held {
	uint64_t due;
	uint32_t len;
	int out; /* socket index to send on */
	uint8_t *frame;
};

static volatile sig_atomic_t impair_stop;
static uint64_t rng_state;

static void on_signal(int sig)
{
	(void)sig;
	impair_stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: seeded, so a run can be repeated */
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static int chance(uint32_t ppm)
{
	return ppm && rnd() % 1000000 < ppm;
}

static uint32_t parse_ppm(const char *s)
{
	char *end;
	double pct = strtod(s, &end);
	if (*end || pct < 0 || pct > 100) {
		fprintf(stderr, "impair: bad percentage '%s'\n", s);
		exit(2);
	}
	return (uint32_t)(pct * 10000.0 + 0.5);
}

static int open_port(const char *ifname)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	struct packet_mreq mr = { .mr_type = PACKET_MR_PROMISC };
	int one = 1, fd;

	if (!(sll.sll_ifindex = (int)if_nametoindex(ifname))) {
		fprintf(stderr, "impair: %s: no such interface\n", ifname);
		return -1;
	}
	if ((fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL))) < 0) {
		fprintf(stderr, "impair: %s: socket: %s\n", ifname, strerror(errno));
		return -1;
	}
	mr.mr_ifindex = sll.sll_ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0) {
		fprintf(stderr, "impair: %s: %s\n", ifname, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static struct held held[IMPAIR_HELD_MAX];
static int nheld;

static void hold(int out, const uint8_t *frame, uint32_t len, uint64_t due, struct impair_stats *s)
{
	struct held *h;
	if (nheld == IMPAIR_HELD_MAX || !(held[nheld].frame = malloc(len))) {
		s->overflow++;
		return;
	}
	h = &held[nheld++];
	memcpy(h->frame, frame, len);
	h->len = len;
	h->out = out;
	h->due = due;
}

/* Send every held frame that is due, oldest deadline first; returns the
 * earliest deadline still pending (UINT64_MAX: none). */
static uint64_t release(const int fd[2], uint64_t now, struct impair_stats st[2])
{
	uint64_t next = UINT64_MAX;
	for (;;) {
		int best = -1;
		for (int i = 0; i < nheld; i++)
			if (best < 0 || held[i].due < held[best].due)
				best = i;
		if (best < 0)
			return UINT64_MAX;
		if (held[best].due > now) {
			next = held[best].due;
			return next;
		}
		if (send(fd[held[best].out], held[best].frame, held[best].len, 0) == (ssize_t)held[best].len)
			st[1 - held[best].out].tx++;
		free(held[best].frame);
		/* keep FIFO order among equal deadlines: shift, not swap */
		memmove(&held[best], &held[best + 1], (size_t)(nheld - best - 1) * sizeof(held[0]));
		nheld--;
	}
}

static void forward(const int fd[2], int in, uint8_t *frame, uint32_t len, const struct impair_faults *f,
		    int impaired, struct impair_stats *s, uint64_t now)
{
	int out = 1 - in;
	uint64_t due = now + (impaired ? f->delay_ns : 0);
	int copies = 1;

	s->rx++;
	if (impaired) {
		if (chance(f->loss)) {
			s->lost++;
			return;
		}
		if (chance(f->dup)) {
			s->duplicated++;
			copies = 2;
		}
		if (len > ETH_HLEN && chance(f->corrupt)) {
			frame[ETH_HLEN + rnd() % (len - ETH_HLEN)] ^= (uint8_t)(1u << (rnd() % 8));
			s->corrupted++;
		}
		if (chance(f->reorder)) {
			s->reordered++;
			due += f->reorder_ns;
		}
	}
	for (int c = 0; c < copies; c++) {
		if (due <= now && nheld == 0) {
			if (send(fd[out], frame, len, 0) == (ssize_t)len)
				s->tx++;
		} else {
			hold(out, frame, len, due, s);
		}
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: impair [-l LOSS%%] [-r REORDER%%] [-d DUP%%] [-c CORRUPT%%] [-D DELAY_US]\n"
		   "              [-R REORDER_US] [-s SEED] [-o a2b|b2a|both] IF_A IF_B\n");
}

int main(int argc, char **argv)
{
	struct impair_faults f = { .reorder_ns = 1000000 };
	struct impair_stats st[2] = { { 0 } };
	const char *dir = "both";
	static uint8_t frame[IMPAIR_FRAME_MAX];
	int fd[2], opt, impaired[2];
	struct sigaction sa = { .sa_handler = on_signal };

	rng_state = 0x9e3779b97f4a7c15ull;
	while ((opt = getopt(argc, argv, "l:r:d:c:D:R:s:o:h")) != -1) {
		switch (opt) {
		case 'l': f.loss = parse_ppm(optarg); break;
		case 'r': f.reorder = parse_ppm(optarg); break;
		case 'd': f.dup = parse_ppm(optarg); break;
		case 'c': f.corrupt = parse_ppm(optarg); break;
		case 'D': f.delay_ns = strtoull(optarg, NULL, 10) * 1000; break;
		case 'R': f.reorder_ns = strtoull(optarg, NULL, 10) * 1000; break;
		case 's': rng_state = strtoull(optarg, NULL, 0) | 1; break;
		case 'o': dir = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 2 || (strcmp(dir, "both") && strcmp(dir, "a2b") && strcmp(dir, "b2a"))) {
		usage(stderr);
		return 2;
	}
	impaired[0] = strcmp(dir, "b2a") != 0; /* frames arriving on A go to B */
	impaired[1] = strcmp(dir, "a2b") != 0;
	if ((fd[0] = open_port(argv[optind])) < 0 || (fd[1] = open_port(argv[optind + 1])) < 0)
		return 1;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	printf("impair: relaying %s <-> %s\n", argv[optind], argv[optind + 1]);
	fflush(stdout);

	while (!impair_stop) {
		struct pollfd p[2] = { { .fd = fd[0], .events = POLLIN }, { .fd = fd[1], .events = POLLIN } };
		uint64_t now = now_ns(), next = release(fd, now, st);
		int timeout = next == UINT64_MAX ? 100 : (int)((next - now + 999999) / 1000000);
		if (poll(p, 2, timeout) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			ssize_t n;
			if (!(p[i].revents & POLLIN))
				continue;
			while ((n = recv(fd[i], frame, sizeof(frame), MSG_DONTWAIT)) > 0)
				forward(fd, i, frame, (uint32_t)n, &f, impaired[i], &st[i], now_ns());
		}
	}
	for (int i = 0; i < 2; i++)
		fprintf(stderr, "impair: %s->%s rx %llu tx %llu lost %llu reordered %llu duplicated %llu "
				"corrupted %llu overflow %llu\n",
			argv[optind + i], argv[optind + 1 - i], (unsigned long long)st[i].rx,
			(unsigned long long)st[i].tx, (unsigned long long)st[i].lost,
			(unsigned long long)st[i].reordered, (unsigned long long)st[i].duplicated,
			(unsigned long long)st[i].corrupted, (unsigned long long)st[i].overflow);
	return 0;
}
