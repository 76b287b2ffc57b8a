/* Interoperability with Linux's TCP: the stack on a tap device inside a
 * network namespace of its own, the kernel as the peer (198.18.0.1 on the
 * tap). Active and passive opens with the kernel's options, 4 MiB each way
 * at once byte-exact, and both closes. Real time, bounded by deadlines.
 * Needs root and /dev/net/tun: otherwise it exits 77 (skipped). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "../lib/tt.h"

#define BYTES (4u << 20)
#define KPORT 5001

struct tapif {
	struct netif nif;
	int fd;
	uint32_t drop_every; /* 0: none; else drop 1 frame in N each way */
	uint32_t rx_n, tx_n;
};

static uint16_t tap_rx(struct netif *nif, struct pbuf **pkts, uint16_t n)
{
	struct tapif *ti = (struct tapif *)nif;
	uint16_t i = 0;
	while (i < n) {
		struct pbuf *p = pbuf_alloc(nif->pool);
		ssize_t r;
		if (!p)
			break;
		r = read(ti->fd, p->data, p->size - PBUF_HEADROOM);
		if (r <= 0) {
			pbuf_free(p);
			break;
		}
		p->len = (uint32_t)r;
		if (ti->drop_every && ++ti->rx_n % ti->drop_every == 0) {
			pbuf_free(p);
			continue;
		}
		pkts[i++] = p;
	}
	return i;
}

static uint16_t tap_tx(struct netif *nif, struct pbuf **pkts, uint16_t n)
{
	struct tapif *ti = (struct tapif *)nif;
	for (uint16_t i = 0; i < n; i++) {
		if (ti->drop_every && ++ti->tx_n % ti->drop_every == 0) {
			pbuf_free(pkts[i]);
			continue;
		}
		if (write(ti->fd, pkts[i]->data, pkts[i]->len) < 0 && errno == EAGAIN)
			return i;
		pbuf_free(pkts[i]);
	}
	return n;
}

static const struct netif_ops tap_ops = { .rx_burst = tap_rx, .tx_burst = tap_tx };

struct lx {
	int kernel_opts_off; /* the kernel's SACK, TS and WS sysctls are off */
	struct tapif tap;
	struct pbuf_pool *pool;
	struct stack *st;
};
static struct lx lx;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int sh(const char *cmd)
{
	return system(cmd);
}

/* A namespace of our own with a tap device whose kernel end is the peer. */
static int lx_env(void)
{
	struct ifreq ifr = { 0 };
	if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) || unshare(CLONE_NEWNET))
		return -1;
	if ((lx.tap.fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK)) < 0)
		return -1;
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "demitcp0");
	if (ioctl(lx.tap.fd, TUNSETIFF, &ifr))
		return -1;
	if (sh("ip link set lo up && ip addr add 198.18.0.1/24 dev demitcp0 && ip link set demitcp0 up"))
		return -1;
	sh("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null");
	return 0;
}

static int setup(void **state)
{
	lx.tap.drop_every = lx.tap.rx_n = lx.tap.tx_n = 0;
	struct stack_cfg cfg = { .prefix_len = 24 };
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 2 };
	cfg.addr.s_addr = htonl(TT_US_IP);
	if (pbuf_pool_heap_create(&lx.pool, 4096, 2048))
		return -1;
	lx.tap.nif.ops = &tap_ops;
	lx.tap.nif.pool = lx.pool;
	memcpy(lx.tap.nif.mac, mac, 6);
	lx.tap.nif.mtu = 1500;
	if (stack_create(&lx.st, &cfg, &lx.tap.nif, now_ns()))
		return -1;
	*state = &lx;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	stack_destroy(lx.st);
	/* drain what the kernel sent meanwhile */
	struct pbuf *p;
	while (tap_rx(&lx.tap.nif, &p, 1))
		pbuf_free(p);
	assert_int_equal(lx.pool->in_use, 0);
	pbuf_pool_heap_destroy(lx.pool);
	return 0;
}

static uint8_t pat(uint64_t off, uint8_t seed)
{
	return (uint8_t)((off * 131 + seed) ^ (off >> 9));
}

struct end {
	struct sock *s; /* stack side, or NULL */
	int fd;         /* kernel side, or -1 */
	uint64_t sent, rcvd;
	int eof, shut;
	uint8_t stx, srx;
};

static void end_pump(struct end *e)
{
	static uint8_t b[32768];
	ssize_t n;
	while (e->sent < BYTES) {
		size_t len = BYTES - e->sent < sizeof(b) ? BYTES - e->sent : sizeof(b);
		for (size_t i = 0; i < len; i++)
			b[i] = pat(e->sent + i, e->stx);
		if (e->s) {
			struct iovec v = { .iov_base = b, .iov_len = len };
			n = sock_send(e->s, &v, 1, 0, NULL);
		} else {
			n = write(e->fd, b, len);
			if (n < 0)
				n = -errno;
		}
		if (n == -EAGAIN)
			break;
		assert_true(n > 0);
		e->sent += (uint64_t)n;
	}
	if (e->sent == BYTES && !e->shut) {
		if (e->s)
			assert_int_equal(sock_shutdown(e->s, SHUT_WR), 0);
		else
			assert_int_equal(shutdown(e->fd, SHUT_WR), 0);
		e->shut = 1;
	}
	while (!e->eof) {
		if (e->s) {
			struct iovec v = { .iov_base = b, .iov_len = sizeof(b) };
			n = sock_recv(e->s, &v, 1, 0, NULL);
		} else {
			n = read(e->fd, b, sizeof(b));
			if (n < 0)
				n = -errno;
		}
		if (n == -EAGAIN)
			break;
		if (n == 0) {
			e->eof = 1;
			break;
		}
		assert_true(n > 0);
		for (ssize_t i = 0; i < n; i++)
			if (b[i] != pat(e->rcvd + (uint64_t)i, e->srx))
				fail_msg("byte %llu differs", (unsigned long long)(e->rcvd + (uint64_t)i));
		e->rcvd += (uint64_t)n;
	}
}

static void exchange(struct end *a, struct end *k)
{
	uint64_t deadline = now_ns() + 30000000000ull;
	while (!(a->eof && k->eof && a->rcvd == BYTES && k->rcvd == BYTES)) {
		end_pump(a);
		end_pump(k);
		stack_poll(lx.st, now_ns());
		if (now_ns() > deadline) {
			unsigned n;
			const uint64_t *v = stack_counter_values(lx.st, &n);
			struct tcb *t = a->s->proto;
			struct tcp_info ki;
			socklen_t kl = sizeof(ki);
			char line[4096];
			size_t o = 0;
			/* what both ends think, first: a runner may keep only the last lines */
			print_message("stack: state %d rcv_nxt %u rcv_adv %u last_ack %u rq %u ooo %u/%u [%u..] snd_una %u "
				      "nxt %u max %u wnd %u cwnd %u rto %u backoff %u flags %#x pool %u\n",
				      t->state, t->rcv_nxt - t->irs, t->rcv_adv - t->irs, t->last_ack_sent - t->irs,
				      t->rq_bytes, t->ooo_bytes, t->ooo_pbufs,
				      t->ooo ? (uint32_t)t->ooo->user[0] - t->irs : 0, t->snd_una - t->iss,
				      t->snd_nxt - t->iss, t->snd_max - t->iss, t->snd_wnd, t->cc.cwnd, t->rto_ms,
				      t->backoff, t->flags, lx.pool->in_use);
			if (!getsockopt(k->fd, IPPROTO_TCP, TCP_INFO, &ki, &kl))
				print_message("kernel: state %u ca_state %u retransmits %u backoff %u rto %u unacked %u "
					      "sacked %u lost %u retrans %u reordering %u cwnd %u ssthresh %u "
					      "rcv_space %u total_retrans %u\n",
					      ki.tcpi_state, ki.tcpi_ca_state, ki.tcpi_retransmits, ki.tcpi_backoff,
					      ki.tcpi_rto, ki.tcpi_unacked, ki.tcpi_sacked, ki.tcpi_lost, ki.tcpi_retrans,
					      ki.tcpi_reordering, ki.tcpi_snd_cwnd, ki.tcpi_snd_ssthresh,
					      ki.tcpi_rcv_space, ki.tcpi_total_retrans);
			for (unsigned i = 0; i < n; i++)
				if (v[i] && o < sizeof(line) - 64)
					o += (size_t)snprintf(line + o, sizeof(line) - o, "%s=%llu ", stack_counter_name(i),
							      (unsigned long long)v[i]);
			print_message("counters: %s\n", line);
			fail_msg("stalled: stack sent %llu rcvd %llu, kernel sent %llu rcvd %llu",
				 (unsigned long long)a->sent, (unsigned long long)a->rcvd, (unsigned long long)k->sent,
				 (unsigned long long)k->rcvd);
		}
	}
}

static struct tcb *tcb_of_test(struct sock *s)
{
	return s->proto;
}

static int kernel_listener(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(KPORT) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_addr.s_addr = htonl(TT_PEER_IP);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 8), 0);
	return fd;
}

static void test_linux_stack_connects_to_kernel(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(KPORT),
				 .sin_addr.s_addr = htonl(TT_PEER_IP) };
	struct end s = { .fd = -1, .stx = 1, .srx = 2 }, k = { .stx = 2, .srx = 1 };
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	uint64_t deadline = now_ns() + 10000000000ull;
	int lfd = kernel_listener();
	(void)state;
	assert_int_equal(sock_create(lx.st, SOCK_STREAM, &s.s), 0);
	assert_int_equal(sock_connect(s.s, &a), -EINPROGRESS);
	while ((k.fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) < 0) {
		stack_poll(lx.st, now_ns());
		assert_true(now_ns() < deadline);
	}
	while (!(sock_events(s.s) & EPOLLOUT)) {
		stack_poll(lx.st, now_ns());
		assert_true(now_ns() < deadline);
	}
	assert_int_equal(sock_take_error(s.s), 0);
	/* the kernel agreed to every option we offered, unless turned off */
	assert_int_equal(getsockopt(k.fd, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
	if (lx.kernel_opts_off) {
		assert_int_equal(ti.tcpi_options & (TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE), 0);
		assert_int_equal(tcb_of_test(s.s)->flags & (TF_TS_OK | TF_SACK_OK | TF_WS_OK), 0);
	} else {
		assert_true(ti.tcpi_options & TCPI_OPT_TIMESTAMPS);
		assert_true(ti.tcpi_options & TCPI_OPT_SACK);
		assert_true(ti.tcpi_options & TCPI_OPT_WSCALE);
		assert_int_equal(ti.tcpi_snd_wscale, TCP_WSCALE);
	}
	exchange(&s, &k);
	tl = sizeof(ti);
	assert_int_equal(sock_getopt(s.s, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
	assert_int_equal(ti.tcpi_snd_mss, lx.kernel_opts_off ? 1460 : 1448);
	sock_close(s.s);
	close(k.fd);
	close(lfd);
	for (int i = 0; i < 1000; i++)
		stack_poll(lx.st, now_ns());
}

static void test_linux_kernel_connects_to_stack(void **state)
{
	struct sockaddr_in la = { .sin_family = AF_INET, .sin_port = htons(TT_LPORT) };
	struct sockaddr_in ka = { .sin_family = AF_INET, .sin_port = htons(TT_LPORT),
				  .sin_addr.s_addr = htonl(TT_US_IP) };
	struct end s = { .fd = -1, .stx = 3, .srx = 4 }, k = { .stx = 4, .srx = 3 };
	struct sock *l;
	uint64_t deadline = now_ns() + 10000000000ull;
	(void)state;
	assert_int_equal(sock_create(lx.st, SOCK_STREAM, &l), 0);
	assert_int_equal(sock_bind(l, &la), 0);
	assert_int_equal(sock_listen(l, 8), 0);
	k.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(connect(k.fd, (struct sockaddr *)&ka, sizeof(ka)) < 0 && errno == EINPROGRESS);
	while (sock_accept(l, &s.s, NULL) == -EAGAIN) {
		stack_poll(lx.st, now_ns());
		assert_true(now_ns() < deadline);
	}
	exchange(&s, &k);
	assert_int_equal(sock_events(s.s) & (EPOLLIN | EPOLLRDHUP | EPOLLHUP), EPOLLIN | EPOLLRDHUP | EPOLLHUP);
	sock_close(s.s);
	sock_close(l);
	close(k.fd);
	for (int i = 0; i < 1000; i++)
		stack_poll(lx.st, now_ns());
}

/* The same with one frame in 20 lost each way: Linux's recovery against
 * our SACKs, ours against Linux's. */
static void test_linux_kernel_connects_to_stack_with_loss(void **state)
{
	uint64_t before = lx.st->ctr.v[TCP_RETRANS_SEGS];
	lx.tap.drop_every = 20;
	test_linux_kernel_connects_to_stack(state);
	assert_true(lx.st->ctr.v[TCP_RETRANS_SEGS] > before);
}

static void test_linux_stack_connects_to_kernel_with_loss(void **state)
{
	lx.tap.drop_every = 20;
	test_linux_stack_connects_to_kernel(state);
	assert_true(lx.st->ctr.v[TCP_RETRANS_SEGS] > 0);
}

/* A connection from the kernel to a stack listener, accepted. */
static void kernel_to_stack(struct sock **l, struct sock **s, int *kfd)
{
	struct sockaddr_in la = { .sin_family = AF_INET, .sin_port = htons(TT_LPORT) };
	struct sockaddr_in ka = { .sin_family = AF_INET, .sin_port = htons(TT_LPORT),
				  .sin_addr.s_addr = htonl(TT_US_IP) };
	uint64_t deadline = now_ns() + 10000000000ull;
	assert_int_equal(sock_create(lx.st, SOCK_STREAM, l), 0);
	assert_int_equal(sock_bind(*l, &la), 0);
	assert_int_equal(sock_listen(*l, 8), 0);
	*kfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(connect(*kfd, (struct sockaddr *)&ka, sizeof(ka)) < 0 && errno == EINPROGRESS);
	while (sock_accept(*l, s, NULL) == -EAGAIN) {
		stack_poll(lx.st, now_ns());
		assert_true(now_ns() < deadline);
	}
}

static void poll_for(uint64_t ns)
{
	uint64_t end = now_ns() + ns;
	while (now_ns() < end)
		stack_poll(lx.st, now_ns());
}

/* Closing with unread data resets: the kernel's read says ECONNRESET. */
static void test_linux_close_with_unread_data_resets_kernel(void **state)
{
	struct sock *l, *s;
	int kfd;
	char b[16];
	(void)state;
	kernel_to_stack(&l, &s, &kfd);
	assert_int_equal(write(kfd, "unread", 6), 6);
	while (!sock_rx_bytes(s))
		stack_poll(lx.st, now_ns());
	sock_close(s);
	poll_for(20000000);
	assert_int_equal(read(kfd, b, sizeof(b)), -1);
	assert_int_equal(errno, ECONNRESET);
	close(kfd);
	sock_close(l);
}

/* Each side stops reading until the other's window closes, then reads
 * everything: zero windows, window updates and probes both ways. */
static void test_linux_zero_windows_both_ways(void **state)
{
	struct end s = { .fd = -1, .stx = 5, .srx = 6 }, k = { .stx = 6, .srx = 5 };
	struct sock *l;
	uint64_t deadline;
	(void)state;
	kernel_to_stack(&l, &s.s, &k.fd);
	/* fill until neither side can send: nobody reads */
	for (int quiet = 0; quiet < 3;) {
		uint64_t before = s.sent + k.sent;
		static uint8_t b[65536];
		ssize_t n;
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = pat(s.sent + i, s.stx);
		struct iovec v = { .iov_base = b, .iov_len = BYTES - s.sent < sizeof(b) ? BYTES - s.sent : sizeof(b) };
		if (s.sent < BYTES && (n = sock_send(s.s, &v, 1, 0, NULL)) > 0)
			s.sent += (uint64_t)n;
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = pat(k.sent + i, k.stx);
		if (k.sent < BYTES && (n = write(k.fd, b, BYTES - k.sent < sizeof(b) ? BYTES - k.sent : sizeof(b))) > 0)
			k.sent += (uint64_t)n;
		poll_for(50000000);
		quiet = s.sent + k.sent == before ? quiet + 1 : 0;
	}
	assert_true(s.sent < BYTES && k.sent < BYTES); /* both blocked by windows */
	assert_true(tcb_of_test(s.s)->snd_wnd < 1448); /* Linux never shrinks its window to zero at once */
	deadline = now_ns() + 30000000000ull;
	(void)deadline;
	exchange(&s, &k);
	sock_close(s.s);
	sock_close(l);
	close(k.fd);
	poll_for(10000000);
}

/* Many short request/response connections from the kernel, as wrk or
 * curl against a server on the stack; half closed first by the client,
 * half by the server (whose TIME-WAITs then pile up on the stack). */
static void test_linux_short_connections(void **state)
{
	struct sockaddr_in la = { .sin_family = AF_INET, .sin_port = htons(TT_LPORT) };
	struct sockaddr_in ka = { .sin_family = AF_INET, .sin_port = htons(TT_LPORT),
				  .sin_addr.s_addr = htonl(TT_US_IP) };
	static char resp[3000];
	struct sock *l, *s;
	(void)state;
	memset(resp, 'r', sizeof(resp));
	assert_int_equal(sock_create(lx.st, SOCK_STREAM, &l), 0);
	assert_int_equal(sock_bind(l, &la), 0);
	assert_int_equal(sock_listen(l, 64), 0);
	for (int i = 0; i < 200; i++) {
		uint64_t deadline = now_ns() + 5000000000ull;
		int kfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), server_first = i & 1;
		char b[4096];
		size_t got = 0;
		ssize_t n;
		struct iovec v = { .iov_base = b, .iov_len = sizeof(b) };
		assert_true(connect(kfd, (struct sockaddr *)&ka, sizeof(ka)) < 0 && errno == EINPROGRESS);
		while (sock_accept(l, &s, NULL) == -EAGAIN) {
			stack_poll(lx.st, now_ns());
			assert_true(now_ns() < deadline);
		}
		while (write(kfd, "GET / HTTP/1.1\r\n\r\n", 18) != 18) {
			stack_poll(lx.st, now_ns());
			assert_true(now_ns() < deadline);
		}
		while (sock_recv(s, &v, 1, 0, NULL) == -EAGAIN) {
			stack_poll(lx.st, now_ns());
			assert_true(now_ns() < deadline);
		}
		struct iovec r = { .iov_base = resp, .iov_len = sizeof(resp) };
		assert_int_equal(sock_send(s, &r, 1, 0, NULL), sizeof(resp));
		if (server_first)
			sock_close(s);
		while (got < sizeof(resp)) {
			stack_poll(lx.st, now_ns());
			if ((n = read(kfd, b, sizeof(b))) > 0)
				got += (size_t)n;
			assert_true(now_ns() < deadline);
		}
		close(kfd);
		if (!server_first) {
			while (!(sock_events(s) & EPOLLRDHUP)) {
				stack_poll(lx.st, now_ns());
				assert_true(now_ns() < deadline);
			}
			assert_int_equal(sock_recv(s, &v, 1, 0, NULL), 0);
			sock_close(s);
		}
	}
	poll_for(20000000);
	/* what is left: the listener and the server-side TIME-WAITs */
	int tw = 0;
	for (struct tcb *t = lx.st->tcp->all; t; t = t->next)
		if (t->state == TCP_STATE_TIME_WAIT)
			tw++;
	assert_int_equal(tw, 100);
	assert_int_equal(lx.st->tcp->count, 101);
	assert_int_equal(lx.st->ctr.v[TCP_PASSIVE_OPENS], 200);
	sock_close(l);
}

/* Linux with SACK, timestamps and window scaling turned off (per-namespace
 * sysctls), with loss: the stack's NewReno recovery and Karn timing
 * against the kernel's, and a 64 KiB window. */
static void test_linux_without_options_with_loss(void **state)
{
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	assert_int_equal(sh("sysctl -qw net.ipv4.tcp_sack=0 net.ipv4.tcp_timestamps=0 net.ipv4.tcp_window_scaling=0"), 0);
	lx.tap.drop_every = 25;
	lx.kernel_opts_off = 1;
	test_linux_stack_connects_to_kernel(state);
	lx.kernel_opts_off = 0;
	sh("sysctl -qw net.ipv4.tcp_sack=1 net.ipv4.tcp_timestamps=1 net.ipv4.tcp_window_scaling=1");
	assert_true(lx.st->ctr.v[TCP_RETRANS_SEGS] > 0);
	(void)ti, (void)tl;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_linux_stack_connects_to_kernel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_kernel_connects_to_stack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_stack_connects_to_kernel_with_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_kernel_connects_to_stack_with_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_close_with_unread_data_resets_kernel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_zero_windows_both_ways, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_short_connections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_without_options_with_loss, setup, teardown),
	};
	if (lx_env()) {
		printf("skipped: needs root, /dev/net/tun and network namespaces\n");
		return 77;
	}
	return cmocka_run_group_tests_name("tcp_linux", tests, NULL, NULL);
}
