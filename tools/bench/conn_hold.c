/* conn_hold: many idle TCP connections, for the memory-per-connection
 * benchmark. A plain libc program: run it under the shim or on the kernel.
 *
 *   conn_hold server ADDR PORT [-n N] [-t SECS]
 *       (N: descriptors to make room for) listen, accept every connection and keep it open (never reads);
 *       prints "listening" then "held N" at every 1000th connection
 *   conn_hold client ADDR PORT -n N [-t SECS] [-s SRC -k K]
 *       open N connections (at most 256 handshakes in flight), print
 *       "connected N" once all are established, then hold them idle
 *   conn_hold churn ADDR PORT -n N [-w PAR] [-t SECS] [-s SRC -k K]
 *       N short connections to an HTTP server, PAR (default 64) at a time:
 *       each sends "GET /", reads one response (status 200, its
 *       Content-Length body) and closes first; prints "churned N in SECS s"
 *
 * -s SRC -k K: bind each connection to one of the K addresses from SRC on
 * (more 4-tuples than one source address has ports).
 * server and client run until -t SECS (default 60) or SIGTERM/SIGINT, then
 * exit 0; churn ends when done. client and churn exit 1 if a connection
 * fails. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define INFLIGHT 256

static volatile sig_atomic_t stop;
static struct in_addr src_first; /* -s: first source address (0: any) */
static long src_count = 1;        /* -k */

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Room for n descriptors and some spare: above the hard limit only where
 * the process may raise it (CAP_SYS_RESOURCE), else up to the hard limit. */
static void raise_nofile(long n)
{
	struct rlimit rl, want;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || (long)rl.rlim_cur >= n + 64)
		return;
	want.rlim_cur = (rlim_t)(n + 64);
	want.rlim_max = rl.rlim_max > want.rlim_cur ? rl.rlim_max : want.rlim_cur;
	if (setrlimit(RLIMIT_NOFILE, &want) == 0)
		return;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

static int run_server(const struct sockaddr_in *sa, long count, double end)
{
	int one = 1, lfd, ep;
	long held = 0;
	struct epoll_event ev = { .events = EPOLLIN };
	raise_nofile(count > 0 ? count : 100000);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(lfd, (const struct sockaddr *)sa, sizeof(*sa)) != 0 || listen(lfd, 4096) != 0) {
		perror("conn_hold: listen");
		return 2;
	}
	ep = epoll_create1(0);
	ev.data.fd = lfd;
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0) {
		perror("conn_hold: epoll");
		return 2;
	}
	printf("listening\n");
	fflush(stdout);
	while (!stop && now_s() < end) {
		struct epoll_event got;
		int n = epoll_wait(ep, &got, 1, 100);
		if (n < 0 && errno != EINTR) {
			perror("conn_hold: epoll_wait");
			return 2;
		}
		for (;;) {
			int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
			if (fd < 0) {
				if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
					perror("conn_hold: accept4");
				break;
			}
			if (++held % 1000 == 0) {
				printf("held %ld\n", held);
				fflush(stdout);
			}
		}
	}
	printf("held %ld\n", held);
	return 0;
}

/* A nonblocking socket connecting to sa, from source address n % K. */
static int open_conn(const struct sockaddr_in *sa, long n)
{
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		perror("conn_hold: socket");
		return -1;
	}
	if (src_first.s_addr) {
		struct sockaddr_in from = { .sin_family = AF_INET };
		from.sin_addr.s_addr = htonl(ntohl(src_first.s_addr) + (uint32_t)(n % src_count));
		/* the port is chosen at connect, per 4-tuple */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (const struct sockaddr *)&from, sizeof(from)) != 0) {
			perror("conn_hold: bind");
			close(fd);
			return -1;
		}
	}
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) != 0 && errno != EINPROGRESS) {
		perror("conn_hold: connect");
		close(fd);
		return -1;
	}
	return fd;
}

static int run_client(const struct sockaddr_in *sa, long count, double end)
{
	int ep = epoll_create1(0);
	long started = 0, done = 0, pending = 0;
	raise_nofile(count);
	if (ep < 0) {
		perror("conn_hold: epoll");
		return 2;
	}
	while (done < count && !stop && now_s() < end) {
		struct epoll_event evs[64];
		int n;
		while (pending < INFLIGHT && started < count) {
			struct epoll_event ev = { .events = EPOLLOUT };
			int fd = open_conn(sa, started);
			if (fd < 0)
				return 1;
			ev.data.fd = fd;
			if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
				perror("conn_hold: epoll_ctl");
				return 1;
			}
			started++;
			pending++;
		}
		n = epoll_wait(ep, evs, 64, 100);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd, err = 0;
			socklen_t len = sizeof(err);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
				fprintf(stderr, "conn_hold: connection %ld: %s\n", done, strerror(err ? err : errno));
				return 1;
			}
			epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
			pending--;
			done++;
		}
	}
	if (done < count) {
		fprintf(stderr, "conn_hold: %ld of %ld connections established\n", done, count);
		return 1;
	}
	printf("connected %ld\n", done);
	fflush(stdout);
	while (!stop && now_s() < end)
		usleep(20000);
	return 0;
}

/* One short connection of churn: its fd's state, indexed by fd. */
struct churn_conn {
	int state; /* 0 free, 1 connecting, 2 reading */
	size_t got;
	char buf[4096];
};

/* A complete response in c->buf: 1, 0 not yet, -1 bad (not a 200). */
static int churn_complete(struct churn_conn *c)
{
	char *end, *cl;
	c->buf[c->got] = 0;
	if (!(end = strstr(c->buf, "\r\n\r\n")))
		return c->got >= sizeof(c->buf) - 1 ? -1 : 0;
	if (strncmp(c->buf, "HTTP/1.1 200 ", 13) != 0 || !(cl = strcasestr(c->buf, "\r\nContent-Length: ")))
		return -1;
	return c->got >= (size_t)(end + 4 - c->buf) + strtoul(cl + 18, NULL, 10);
}

static int run_churn(const struct sockaddr_in *sa, long count, long par, double end)
{
	static const char req[] = "GET /index.html HTTP/1.1\r\nHost: demi\r\n\r\n";
	int ep = epoll_create1(0), maxfd = (int)par + 1024;
	long started = 0, done = 0, pending = 0;
	struct churn_conn *cs = calloc((size_t)maxfd, sizeof(*cs));
	double t0 = now_s();
	raise_nofile(maxfd);
	if (ep < 0 || !cs) {
		perror("conn_hold: churn");
		return 2;
	}
	while (done < count && !stop && now_s() < end) {
		struct epoll_event evs[64];
		int n;
		while (pending < par && started < count) {
			struct epoll_event ev = { .events = EPOLLOUT };
			int fd = open_conn(sa, started);
			if (fd < 0)
				return 1;
			if (fd >= maxfd) {
				fprintf(stderr, "conn_hold: fd %d beyond the table\n", fd);
				return 1;
			}
			ev.data.fd = fd;
			if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
				perror("conn_hold: epoll_ctl");
				return 1;
			}
			cs[fd].state = 1;
			cs[fd].got = 0;
			started++;
			pending++;
		}
		n = epoll_wait(ep, evs, 64, 100);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd, err = 0, r;
			struct churn_conn *c = &cs[fd];
			socklen_t len = sizeof(err);
			ssize_t got;
			if (c->state == 1) {
				struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
				if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0 ||
				    send(fd, req, sizeof(req) - 1, 0) != (ssize_t)sizeof(req) - 1) {
					fprintf(stderr, "conn_hold: connection %ld: %s\n", started,
						strerror(err ? err : errno));
					return 1;
				}
				epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
				c->state = 2;
				continue;
			}
			got = recv(fd, c->buf + c->got, sizeof(c->buf) - 1 - c->got, 0);
			if (got < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (got <= 0) {
				fprintf(stderr, "conn_hold: connection %ld: %s before the response ended\n", done,
					got == 0 ? "EOF" : strerror(errno));
				return 1;
			}
			c->got += (size_t)got;
			if ((r = churn_complete(c)) < 0) {
				fprintf(stderr, "conn_hold: bad response: %.80s\n", c->buf);
				return 1;
			}
			if (r == 0)
				continue;
			close(fd); /* also leaves the epoll set */
			c->state = 0;
			pending--;
			done++;
		}
	}
	if (done < count) {
		fprintf(stderr, "conn_hold: %ld of %ld connections done\n", done, count);
		return 1;
	}
	printf("churned %ld in %.1f s\n", done, now_s() - t0);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct sigaction act = { .sa_handler = on_signal };
	double secs = 60;
	long count = 0, par = 64;
	int opt;
	while ((opt = getopt(argc, argv, "n:t:s:k:w:")) != -1) {
		if (opt == 'n')
			count = atol(optarg);
		else if (opt == 't')
			secs = atof(optarg);
		else if (opt == 's' && inet_pton(AF_INET, optarg, &src_first) == 1)
			continue;
		else if (opt == 'k' && (src_count = atol(optarg)) > 0)
			continue;
		else if (opt == 'w' && (par = atol(optarg)) > 0)
			continue;
		else
			return 2;
	}
	if (argc - optind != 3 || inet_pton(AF_INET, argv[optind + 1], &sa.sin_addr) != 1) {
		fprintf(stderr, "usage: conn_hold server|client|churn ADDR PORT [-n N] [-t SECS] [-w PAR] "
				"[-s SRC -k K]\n");
		return 2;
	}
	sa.sin_port = htons((uint16_t)atoi(argv[optind + 2]));
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(argv[optind], "server"))
		return run_server(&sa, count, now_s() + secs);
	if (!strcmp(argv[optind], "client") && count > 0)
		return run_client(&sa, count, now_s() + secs);
	if (!strcmp(argv[optind], "churn") && count > 0)
		return run_churn(&sa, count, par, now_s() + secs);
	fprintf(stderr, "conn_hold: client needs -n N\n");
	return 2;
}
