/* The runtime over the in-memory link instead of DPDK: lazy start and its
 * errors, rt_wait's outcomes (ready, deadline, kernel fd, signal, device
 * wake-up), the progress thread, the lock, threads sharing the instance,
 * fork, shutdown and its drain, and the counters file. The test plays the
 * peer on a second memlink port (by hand, or as a second stack). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demi/shm.h"
#include "netif/memlink.h"
#include "rt/rt_impl.h"
#include "stack_impl.h"
#include "wire/arp.h"
#include "wire/eth.h"

static const uint8_t MAC_ST[6] = { 2, 0, 0, 0, 0, 1 }, MAC_PEER[6] = { 2, 0, 0, 0, 0, 2 };
#define ST_IP 0xc6120102u   /* 198.18.1.2 */
#define PEER_IP 0xc6120101u /* 198.18.1.1 */

/* The runtime's device: a memlink port that advances the link on each rx
 * burst; optionally with a wait fd (a pipe) the test writes to. */
struct tnif {
	struct netif nif;
	struct netif *port;
	int wfd[2];      /* [0] is the wait fd; -1: none */
	int closed;
};

static struct {
	struct memlink *ml;
	struct pbuf_pool *pool_st, *pool_peer;
	struct netif *peer;
	struct tnif dev;
	int opens;
	int open_fail;
	int use_wait_fd;
	int async_sig;   /* the wait fd raises this signal on input */
	struct stack *peer_st; /* a peer stack driven on each rx burst of the device */
	char shm_dir[64];
} T;

static uint16_t t_rx(struct netif *nif, struct pbuf **pkts, uint16_t n)
{
	struct tnif *t = (struct tnif *)nif;
	memlink_advance(T.ml, rt_now());
	if (T.peer_st) {
		stack_poll(T.peer_st, rt_now());
		memlink_advance(T.ml, rt_now());
	}
	return netif_rx_burst(t->port, pkts, n);
}

static uint16_t t_tx(struct netif *nif, struct pbuf **pkts, uint16_t n)
{
	return netif_tx_burst(((struct tnif *)nif)->port, pkts, n);
}

static int t_wait_fd(struct netif *nif)
{
	return ((struct tnif *)nif)->wfd[0];
}

static int t_intr_arm(struct netif *nif, int on)
{
	struct tnif *t = (struct tnif *)nif;
	char buf[64];
	if (!on)
		while (read(t->wfd[0], buf, sizeof(buf)) > 0)
			;
	return 0;
}

static int t_link_up(struct netif *nif)
{
	(void)nif;
	return 1;
}

static void t_close(struct netif *nif)
{
	((struct tnif *)nif)->closed++;
}

static const struct netif_ops t_ops = {
	.rx_burst = t_rx, .tx_burst = t_tx, .wait_fd = t_wait_fd, .intr_arm = t_intr_arm,
	.link_up = t_link_up, .close = t_close,
};

static int t_open(struct netif **out, const struct rt_cfg *cfg, char *err, size_t errlen)
{
	T.opens++;
	if (T.open_fail) {
		snprintf(err, errlen, "device '%s': no such device", cfg->device);
		return -ENODEV;
	}
	T.dev.nif = *T.dev.port;
	T.dev.nif.ops = &t_ops;
	T.dev.wfd[0] = T.dev.wfd[1] = -1;
	if (T.use_wait_fd && pipe2(T.dev.wfd, O_NONBLOCK | O_CLOEXEC) != 0)
		return -errno;
	if (T.async_sig) { /* as net_tap: O_ASYNC, F_SETSIG, owned by this thread */
		struct f_owner_ex own = { .type = F_OWNER_TID, .pid = (pid_t)gettid() };
		if (fcntl(T.dev.wfd[0], F_SETOWN_EX, &own) != 0 ||
		    fcntl(T.dev.wfd[0], F_SETSIG, T.async_sig) != 0 ||
		    fcntl(T.dev.wfd[0], F_SETFL, O_NONBLOCK | O_ASYNC) != 0)
			return -errno;
	}
	*out = &T.dev.nif;
	return 0;
}

static void configure(uint32_t spin_us)
{
	struct rt_cfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.device, sizeof(cfg.device), "test:link");
	snprintf(cfg.name, sizeof(cfg.name), "rt-test");
	cfg.stack.addr.s_addr = htonl(ST_IP);
	cfg.stack.prefix_len = 24;
	cfg.spin_us = spin_us;
	assert_int_equal(rt_configure(&cfg), 0);
}

static int setup(void **state)
{
	(void)state;
	memset(&T, 0, sizeof(T));
	snprintf(T.shm_dir, sizeof(T.shm_dir), "/tmp/demi-rt-test.XXXXXX");
	if (!mkdtemp(T.shm_dir))
		return -1;
	if (memlink_create(&T.ml, 7) || pbuf_pool_heap_create(&T.pool_st, 256, 2048) ||
	    pbuf_pool_heap_create(&T.pool_peer, 256, 2048))
		return -1;
	T.dev.port = memlink_port(T.ml, MAC_ST, 1500, T.pool_st);
	T.peer = memlink_port(T.ml, MAC_PEER, 1500, T.pool_peer);
	rt_set_opener(t_open);
	rt_set_shm_dir(T.shm_dir);
	return 0;
}

static int teardown(void **state)
{
	struct pbuf *p;
	(void)state;
	rt_reset();
	if (T.dev.wfd[0] >= 0) {
		close(T.dev.wfd[0]);
		close(T.dev.wfd[1]);
	}
	while (netif_rx_burst(T.peer, &p, 1) == 1)
		pbuf_free(p);
	memlink_destroy(T.ml);
	assert_int_equal(T.pool_st->in_use, 0);
	assert_int_equal(T.pool_peer->in_use, 0);
	pbuf_pool_heap_destroy(T.pool_st);
	pbuf_pool_heap_destroy(T.pool_peer);
	rmdir(T.shm_dir);
	return 0;
}

/* The memlink is shared with the runtime's threads (a waiter, the progress
 * thread): the test touches the peer's port under the instance lock. */
static void peer_lock(int on)
{
	struct stack *st = rt_started() ? rt_stack() : NULL;
	if (st && on)
		rt_lock(st);
	else if (st)
		rt_unlock(st);
}

/* The peer asks who has the stack's address. */
static void peer_send_arp_request(void)
{
	peer_lock(1);
	struct pbuf *p = pbuf_alloc(T.pool_peer);
	struct eth_hdr e = { .type = ETH_TYPE_ARP };
	struct arp_pkt a = { .op = ARP_OP_REQUEST, .spa = PEER_IP, .tpa = ST_IP };
	uint8_t *b = pbuf_append(p, ETH_HDR_LEN + ARP_LEN);
	memset(e.dst, 0xff, 6);
	memcpy(e.src, MAC_PEER, 6);
	memcpy(a.sha, MAC_PEER, 6);
	eth_hdr_emit(b, &e);
	arp_pkt_emit(b + ETH_HDR_LEN, &a);
	assert_int_equal(netif_tx_burst(T.peer, &p, 1), 1);
	peer_lock(0);
}

/* ARP replies the peer has received since the last call. */
static int peer_count_arp_replies(void)
{
	struct pbuf *p;
	int n = 0;
	peer_lock(1);
	memlink_advance(T.ml, rt_now());
	while (netif_rx_burst(T.peer, &p, 1) == 1) {
		struct eth_hdr e;
		struct arp_pkt a;
		if (eth_hdr_parse(p->data, p->len, &e) == 0 && e.type == ETH_TYPE_ARP &&
		    arp_pkt_parse(p->data + ETH_HDR_LEN, p->len - ETH_HDR_LEN, &a) == 0 &&
		    a.op == ARP_OP_REPLY && a.spa == ST_IP && !memcmp(a.sha, MAC_ST, 6))
			n++;
		pbuf_free(p);
	}
	peer_lock(0);
	return n;
}

static uint64_t stack_ctr(struct stack *st, const char *name)
{
	unsigned n;
	const uint64_t *v = stack_counter_values(st, &n);
	int i = stack_counter_index(name);
	if (i < 0 || (unsigned)i >= n)
		fail_msg("no counter %s", name);
	assert_string_equal(stack_counter_name((unsigned)i), name);
	return v[i];
}

struct arp_goal {
	struct stack *st;
	uint64_t want;
};

static int ready_arp(void *arg)
{
	struct arp_goal *g = arg;
	return stack_ctr(g->st, "ARP_REPLIES_SENT") >= g->want;
}

static int ready_never(void *arg)
{
	(void)arg;
	return 0;
}

static int ready_always(void *arg)
{
	(void)arg;
	return 1;
}

static uint64_t rt_ctr(struct stack *st, enum rt_counter c)
{
	return atomic_load((_Atomic uint64_t *)&rt_counters(st)[c]);
}

/* ------------------------------------------------------------- start */

static void test_start_unconfigured_fails_with_reason(void **state)
{
	(void)state;
	assert_null(rt_stack());
	assert_non_null(strstr(rt_error(), "not configured"));
	assert_int_equal(T.opens, 0);
}

static void test_start_failure_is_reported_once(void **state)
{
	(void)state;
	T.open_fail = 1;
	configure(0);
	assert_null(rt_stack());
	assert_string_equal(rt_error(), "device 'test:link': no such device");
	assert_null(rt_stack());
	assert_int_equal(T.opens, 1); /* no retry on every call */
	assert_false(rt_started());
}

static void *thread_get_stack(void *arg)
{
	(void)arg;
	return rt_stack();
}

static void test_start_is_lazy_and_threads_share_instance(void **state)
{
	struct stack *st;
	pthread_t th;
	void *other;
	struct stat sb;
	(void)state;
	configure(0);
	assert_int_equal(T.opens, 0);
	assert_false(rt_started());
	st = rt_stack();
	assert_non_null(st);
	assert_true(rt_started());
	assert_int_equal(T.opens, 1);
	assert_ptr_equal(rt_stack(), st);
	assert_int_equal(pthread_create(&th, NULL, thread_get_stack, NULL), 0);
	pthread_join(th, &other);
	assert_ptr_equal(other, st);
	assert_int_equal(T.opens, 1);
	assert_int_equal(stat(rt_shm_path(st), &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
}

/* -------------------------------------------------------------- wait */

static void test_wait_ready_returns_0(void **state)
{
	struct stack *st;
	(void)state;
	configure(0);
	st = rt_stack();
	assert_int_equal(rt_wait(st, ready_always, NULL, UINT64_MAX, -1), 0);
}

static void test_wait_deadline_returns_etimedout_not_before(void **state)
{
	struct stack *st;
	uint64_t deadline;
	(void)state;
	configure(10);
	st = rt_stack();
	deadline = rt_now() + 3 * 1000 * 1000;
	assert_int_equal(rt_wait(st, ready_never, NULL, deadline, -1), -ETIMEDOUT);
	assert_true(rt_now() >= deadline);
	assert_true(rt_ctr(st, RT_SLEEPS) >= 1); /* idle: it slept rather than spun */
}

static void test_wait_kernel_fd_readable_returns_1(void **state)
{
	struct stack *st;
	int p[2];
	(void)state;
	configure(0);
	st = rt_stack();
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(rt_wait(st, ready_never, NULL, UINT64_MAX, p[0]), 1);
	close(p[0]);
	close(p[1]);
}

static void test_wait_drives_the_stack(void **state)
{
	struct arp_goal g;
	(void)state;
	configure(0);
	g.st = rt_stack();
	g.want = 1;
	peer_send_arp_request();
	assert_int_equal(rt_wait(g.st, ready_arp, &g, rt_now() + 5000000000ull, -1), 0);
	assert_int_equal(peer_count_arp_replies(), 1);
}

/* Runs `fn` once the main thread is asleep in rt_wait. */
struct waker {
	struct stack *st;
	pthread_t main;
	uint64_t sleeps0;
	void (*fn)(struct waker *w);
	int fired;
};

static void *waker_main(void *arg)
{
	struct waker *w = arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals are for the main thread */
	while (rt_ctr(w->st, RT_SLEEPS) == w->sleeps0)
		usleep(1000);
	w->fn(w);
	w->fired = 1;
	return NULL;
}

static void wake_by_frame(struct waker *w)
{
	rt_lock(w->st);
	peer_send_arp_request();
	rt_unlock(w->st);
	assert_int_equal(write(T.dev.wfd[1], "x", 1), 1); /* the device's interrupt */
}

static void test_wait_sleeps_then_wakes_on_device_fd(void **state)
{
	struct waker w = { .fn = wake_by_frame };
	struct arp_goal g;
	pthread_t th;
	(void)state;
	T.use_wait_fd = 1;
	configure(1);
	g.st = w.st = rt_stack();
	g.want = 1;
	w.sleeps0 = rt_ctr(w.st, RT_SLEEPS);
	assert_int_equal(pthread_create(&th, NULL, waker_main, &w), 0);
	assert_int_equal(rt_wait(g.st, ready_arp, &g, rt_now() + 10000000000ull, -1), 0);
	pthread_join(th, NULL);
	assert_true(rt_ctr(g.st, RT_WAKE_DEVICE) >= 1);
	assert_int_equal(peer_count_arp_replies(), 1);
}

static volatile sig_atomic_t got_sig;

static void on_sig(int sig)
{
	(void)sig;
	got_sig++;
}

static void wake_by_signal(struct waker *w)
{
	pthread_kill(w->main, SIGUSR1);
}

static void test_wait_signal_returns_eintr(void **state)
{
	struct waker w = { .fn = wake_by_signal };
	struct sigaction sa = { .sa_handler = on_sig }, old;
	pthread_t th;
	(void)state;
	configure(1);
	w.st = rt_stack();
	w.main = pthread_self();
	w.sleeps0 = rt_ctr(w.st, RT_SLEEPS);
	got_sig = 0;
	sigaction(SIGUSR1, &sa, &old);
	assert_int_equal(pthread_create(&th, NULL, waker_main, &w), 0);
	assert_int_equal(rt_wait(w.st, ready_never, NULL, rt_now() + 10000000000ull, -1), -EINTR);
	pthread_join(th, NULL);
	sigaction(SIGUSR1, &old, NULL);
	assert_int_equal(got_sig, 1);
	assert_int_equal(rt_ctr(w.st, RT_WAKE_SIGNAL), 1);
}

/* A device whose fd raises a signal on input (net_tap does): the signal is
 * held while asleep, so it wakes the waiter through the fd, never as EINTR. */
static void test_wait_device_signal_is_not_eintr(void **state)
{
	struct waker w = { .fn = wake_by_frame };
	struct sigaction sa = { .sa_handler = on_sig }, old;
	struct arp_goal g;
	pthread_t th;
	(void)state;
	T.use_wait_fd = 1;
	T.async_sig = SIGUSR2;
	configure(1);
	got_sig = 0;
	sigaction(SIGUSR2, &sa, &old);
	g.st = w.st = rt_stack();
	g.want = 1;
	w.sleeps0 = rt_ctr(w.st, RT_SLEEPS);
	assert_int_equal(pthread_create(&th, NULL, waker_main, &w), 0);
	assert_int_equal(rt_wait(g.st, ready_arp, &g, rt_now() + 10000000000ull, -1), 0);
	pthread_join(th, NULL);
	sigaction(SIGUSR2, &old, NULL);
	assert_true(got_sig >= 1);  /* delivered, after the sleep */
	assert_int_equal(rt_ctr(g.st, RT_WAKE_SIGNAL), 0);
	assert_true(rt_ctr(g.st, RT_WAKE_DEVICE) >= 1);
	assert_int_equal(peer_count_arp_replies(), 1);
}

static int calls_then_signal(void *arg)
{
	int *n = arg;
	if (++*n == 100)
		rt_note_signal(); /* as a signal handler would, mid-wait */
	return 0;
}

static void test_wait_noted_signal_ends_a_busy_wait(void **state)
{
	struct stack *st;
	int n = 0;
	(void)state;
	configure(60 * 1000 * 1000); /* spins a minute: only the note can end it */
	st = rt_stack();
	assert_int_equal(rt_wait(st, calls_then_signal, &n, rt_now() + 120000000000ull, -1), -EINTR);
	assert_true(n >= 100);
	assert_int_equal(rt_ctr(st, RT_SLEEPS), 0);
}

static void test_wait_signal_noted_before_the_wait_is_ignored(void **state)
{
	struct stack *st;
	(void)state;
	configure(0);
	st = rt_stack();
	rt_note_signal();
	assert_int_equal(rt_wait(st, ready_never, NULL, rt_now() + 1000000, -1), -ETIMEDOUT);
}

/* --------------------------------------------------------- progress */

/* Nobody calls into the runtime: the progress thread still answers. */
static void test_progress_drives_the_stack_while_nobody_calls(void **state)
{
	struct stack *st;
	int replies = 0;
	(void)state;
	configure(0);
	st = rt_stack();
	peer_send_arp_request();
	for (int i = 0; i < 10000 && !replies; i++) { /* 10 s: only a hang fails */
		usleep(1000);
		replies = peer_count_arp_replies();
	}
	assert_int_equal(replies, 1);
	assert_true(rt_ctr(st, RT_PROGRESS_PASSES) >= 1);
}

/* It never competes with a caller: not while the instance is held, nor
 * while a waiter sleeps (that one wakes for the device by itself). */
static void test_progress_leaves_a_held_or_waited_instance_alone(void **state)
{
	struct stack *st;
	uint64_t p0;
	(void)state;
	T.use_wait_fd = 1;
	configure(1);
	st = rt_stack();
	rt_lock(st);
	p0 = rt_ctr(st, RT_PROGRESS_PASSES);
	usleep(50 * 1000); /* several of its periods */
	assert_int_equal(rt_ctr(st, RT_PROGRESS_PASSES), p0);
	rt_unlock(st);
	p0 = rt_ctr(st, RT_PROGRESS_PASSES);
	assert_int_equal(rt_wait(st, ready_never, NULL, rt_now() + 50 * 1000 * 1000, -1), -ETIMEDOUT);
	assert_true(rt_ctr(st, RT_SLEEPS) >= 1);
	assert_int_equal(rt_ctr(st, RT_PROGRESS_PASSES), p0);
}

/* ------------------------------------------------------------- lock */

struct locker {
	struct stack *st;
	atomic_int got;
};

static void *locker_main(void *arg)
{
	struct locker *l = arg;
	rt_lock(l->st);
	atomic_store(&l->got, 1);
	rt_unlock(l->st);
	return NULL;
}

static void test_lock_is_recursive_and_excludes_others(void **state)
{
	struct locker l = { 0 };
	pthread_t th;
	(void)state;
	configure(0);
	l.st = rt_stack();
	rt_lock(l.st);
	rt_lock(l.st); /* the owner may take it again */
	assert_int_equal(pthread_create(&th, NULL, locker_main, &l), 0);
	while (rt_ctr(l.st, RT_LOCK_CONTENDED) == 0) /* the other thread found it held */
		usleep(100);
	rt_unlock(l.st);
	assert_int_equal(atomic_load(&l.got), 0); /* still held once */
	rt_unlock(l.st);
	pthread_join(th, NULL);
	assert_int_equal(atomic_load(&l.got), 1);
}

/* Two threads drive the one instance at once, each waiting for its own
 * answers: every request is answered, nothing is lost or corrupted. */
struct driver {
	struct stack *st;
	int rounds;
	int answered;
};

static atomic_int replies_seen, requests_sent;

/* Called under the instance lock, so the peer's port is safe to read. */
static int ready_reply(void *arg)
{
	int *want = arg;
	atomic_fetch_add(&replies_seen, peer_count_arp_replies());
	return atomic_load(&replies_seen) >= *want;
}

static void *driver_main(void *arg)
{
	struct driver *d = arg;
	for (int i = 0; i < d->rounds; i++) {
		int want;
		rt_lock(d->st);
		peer_send_arp_request();
		want = atomic_fetch_add(&requests_sent, 1) + 1;
		rt_unlock(d->st);
		if (rt_wait(d->st, ready_reply, &want, rt_now() + 5000000000ull, -1) != 0)
			return NULL;
		d->answered++;
	}
	return NULL;
}

static void test_two_threads_share_one_instance(void **state)
{
	struct driver d[2];
	pthread_t th[2];
	struct stack *st;
	(void)state;
	configure(5);
	st = rt_stack();
	atomic_store(&replies_seen, 0);
	atomic_store(&requests_sent, 0);
	for (int i = 0; i < 2; i++) {
		d[i] = (struct driver){ .st = st, .rounds = 200 };
		assert_int_equal(pthread_create(&th[i], NULL, driver_main, &d[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	rt_lock(st);
	atomic_fetch_add(&replies_seen, peer_count_arp_replies());
	rt_unlock(st);
	assert_int_equal(d[0].answered + d[1].answered, 400);
	assert_int_equal(stack_ctr(st, "ARP_REPLIES_SENT"), 400);
	assert_int_equal(atomic_load(&replies_seen), 400);
}

/* ------------------------------------------------------------- fork */

static void test_fork_child_forgets_parent_device(void **state)
{
	struct stack *st;
	struct stat sb;
	char path[128];
	pid_t pid;
	int status;
	(void)state;
	configure(0);
	st = rt_stack();
	snprintf(path, sizeof(path), "%s", rt_shm_path(st));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int ok = !rt_started() && rt_stack() == NULL && strstr(rt_error(), "fork");
		rt_shutdown();
		_exit(ok && T.dev.closed == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(stat(path, &sb), 0); /* still the parent's */
	assert_true(rt_started());
}

/* --------------------------------------------------------- shutdown */

static void test_shutdown_releases_device_and_counters_file(void **state)
{
	struct stack *st;
	struct stat sb;
	char path[128];
	(void)state;
	configure(0);
	st = rt_stack();
	snprintf(path, sizeof(path), "%s", rt_shm_path(st));
	assert_int_equal(stat(path, &sb), 0);
	rt_shutdown();
	assert_int_equal(T.dev.closed, 1);
	assert_int_equal(stat(path, &sb), -1);
	assert_false(rt_started());
	assert_null(rt_stack());
	rt_shutdown(); /* twice is harmless */
	assert_int_equal(T.dev.closed, 1);
}

/* ---------------------------------------------------- counters file */

static void test_counters_file_layout_and_values(void **state)
{
	struct arp_goal g;
	struct demi_shm_hdr h;
	char names[64];
	uint64_t v;
	int fd, found = -1;
	(void)state;
	configure(0);
	g.st = rt_stack();
	g.want = 1;
	peer_send_arp_request();
	assert_int_equal(rt_wait(g.st, ready_arp, &g, rt_now() + 5000000000ull, -1), 0);
	/* a short wait sleeps, and the file is brought up to date before sleeping */
	assert_int_equal(rt_wait(g.st, ready_never, NULL, rt_now() + 2000000, -1), -ETIMEDOUT);
	fd = open(rt_shm_path(g.st), O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &h, sizeof(h), 0), sizeof(h));
	assert_int_equal(h.magic, DEMI_SHM_MAGIC);
	assert_int_equal(h.version, DEMI_SHM_VERSION);
	assert_int_equal(h.pid, getpid());
	assert_string_equal(h.program, "rt-test");
	assert_string_equal(h.device, "test:link");
	assert_int_equal(h.ncounters, COUNTER_MAX + RT_COUNTER_MAX);
	assert_int_equal(h.seq % 2, 0);
	assert_int_equal(h.link_up, 1);
	for (unsigned i = 0; i < h.ncounters; i++) {
		assert_int_equal(pread(fd, names, DEMI_SHM_NAME_LEN, h.names_off + i * DEMI_SHM_NAME_LEN),
				 DEMI_SHM_NAME_LEN);
		if (!strcmp(names, "ARP_REPLIES_SENT"))
			found = (int)i;
	}
	assert_true(found >= 0);
	assert_int_equal(stack_counter_index("ARP_REPLIES_SENT"), found); /* the file keeps the stack's order */
	assert_int_equal(stack_counter_index("NO_SUCH_COUNTER"), -1);
	assert_int_equal(pread(fd, &v, 8, h.values_off + 8 * (unsigned)found), 8);
	assert_int_equal(v, 1);
	assert_int_equal(pread(fd, names, DEMI_SHM_NAME_LEN, h.names_off + COUNTER_MAX * DEMI_SHM_NAME_LEN),
			 DEMI_SHM_NAME_LEN);
	assert_string_equal(names, "RT_PASSES");
	close(fd);
}

static void test_counters_file_connection_table(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(5353) };
	struct demi_shm_hdr h;
	struct demi_shm_conn c;
	struct stack *st;
	struct sock *s;
	int fd;
	(void)state;
	configure(0);
	st = rt_stack();
	rt_lock(st);
	assert_int_equal(sock_create(st, SOCK_DGRAM, &s), 0);
	assert_int_equal(sock_bind(s, &sa), 0);
	rt_unlock(st);
	rt_publish(st);
	fd = open(rt_shm_path(st), O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &h, sizeof(h), 0), sizeof(h));
	assert_int_equal(h.nconns, 1);
	assert_int_equal(h.conn_size, sizeof(c));
	assert_true(h.conns_update_ns > 0);
	assert_int_equal(pread(fd, &c, sizeof(c), h.conns_off), sizeof(c));
	assert_int_equal(c.local_port, 5353);
	assert_int_equal(c.type, SOCK_DGRAM);
	assert_int_equal(c.state, -1);
	assert_string_equal(c.state_name, "UDP");
	close(fd);
	rt_lock(st);
	sock_close(s);
	rt_unlock(st);
}

/* A socket callback runs inside the pass: polling again from it is a
 * no-op and waiting from it is refused, rather than re-entering the stack. */
struct reentry {
	struct stack *st;
	int calls, wait_rc;
};

static void notify_reenter(struct sock *s, void *arg)
{
	struct reentry *r = arg;
	(void)s;
	r->calls++;
	rt_poll(r->st);
	r->wait_rc = rt_wait(r->st, ready_always, NULL, UINT64_MAX, -1);
}

static int ready_rx(void *arg)
{
	return (sock_events(arg) & EPOLLIN) != 0;
}

static void test_callback_inside_a_pass_cannot_reenter(void **state)
{
	struct sockaddr_in at = { .sin_family = AF_INET, .sin_port = htons(9) };
	struct stack_cfg pcfg = { .prefix_len = 24 };
	struct reentry r = { 0 };
	struct stack *peer;
	struct sock *s, *ps;
	struct iovec iov = { "hello", 5 };
	(void)state;
	configure(0);
	r.st = rt_stack();
	rt_lock(r.st);
	assert_int_equal(sock_create(r.st, SOCK_DGRAM, &s), 0);
	assert_int_equal(sock_bind(s, &at), 0);
	sock_set_notify(s, notify_reenter, &r);
	rt_unlock(r.st);
	/* the peer is a second stack on the other port, driven by hand */
	pcfg.addr.s_addr = htonl(PEER_IP);
	assert_int_equal(stack_create(&peer, &pcfg, T.peer, rt_now()), 0);
	assert_int_equal(sock_create(peer, SOCK_DGRAM, &ps), 0);
	at.sin_addr.s_addr = htonl(ST_IP);
	rt_lock(r.st); /* the memlink is shared with the runtime's thread */
	assert_int_equal(sock_send(ps, &iov, 1, 0, &at), 5);
	rt_unlock(r.st);
	for (int i = 0; i < 1000 && !(sock_events(s) & EPOLLIN); i++) {
		rt_lock(r.st);
		memlink_advance(T.ml, rt_now());
		stack_poll(peer, rt_now());
		rt_unlock(r.st);
		rt_wait(r.st, ready_rx, s, rt_now() + 1000000, -1);
	}
	assert_true(sock_events(s) & EPOLLIN);
	assert_true(r.calls >= 1);
	assert_int_equal(r.wait_rc, -EDEADLK);
	rt_lock(r.st);
	sock_close(s);
	sock_close(ps);
	stack_destroy(peer);
	rt_unlock(r.st);
}

/* At exit the runtime goes on until what the program sent before closing,
 * and its FIN, are acknowledged: more than one window, so most of it leaves
 * only while rt_shutdown drains. */
struct conn_goal {
	struct sock *s, *ls;
};

static int ready_conn(void *arg)
{
	struct conn_goal *g = arg;
	return (sock_events(g->s) & EPOLLOUT) && (sock_events(g->ls) & EPOLLIN);
}

static void test_shutdown_drains_sent_data(void **state)
{
	struct sockaddr_in at = { .sin_family = AF_INET, .sin_port = htons(7000) }, from;
	struct stack_cfg pcfg = { .prefix_len = 24 };
	static char out[48 * 1024], in[sizeof(out)];
	struct iovec iov = { out, sizeof(out) };
	struct conn_goal g;
	struct sock *ps;
	struct stack *st;
	uint64_t t0;
	size_t got = 0;
	ssize_t n;
	(void)state;
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (char)(i * 7);
	configure(0);
	st = rt_stack();
	pcfg.addr.s_addr = htonl(PEER_IP);
	rt_lock(st);
	assert_int_equal(stack_create(&T.peer_st, &pcfg, T.peer, rt_now()), 0);
	assert_int_equal(sock_create(T.peer_st, SOCK_STREAM, &g.ls), 0);
	assert_int_equal(sock_bind(g.ls, &at), 0);
	assert_int_equal(sock_listen(g.ls, 1), 0);
	assert_int_equal(sock_create(st, SOCK_STREAM, &g.s), 0);
	at.sin_addr.s_addr = htonl(PEER_IP);
	assert_int_equal(sock_connect(g.s, &at), -EINPROGRESS);
	rt_unlock(st);
	assert_int_equal(rt_wait(st, ready_conn, &g, rt_now() + 5000000000ull, -1), 0);
	rt_lock(st);
	assert_int_equal(sock_accept(g.ls, &ps, &from), 0);
	assert_int_equal(sock_send(g.s, &iov, 1, 0, NULL), (ssize_t)sizeof(out));
	assert_int_equal(sock_close(g.s), 0);
	assert_int_equal(stack_tcp_any_closing(st), 1);
	rt_unlock(st);
	t0 = rt_now();
	rt_shutdown();
	assert_true(rt_now() - t0 < 2000000000ull); /* ended by the ACKs, not by its 3 s bound */
	assert_int_equal(stack_tcp_any_closing(st), 0);
	/* the device is gone: what the peer holds is all it will get */
	do {
		struct iovec riov = { in + got, sizeof(in) - got };
		n = sock_recv(ps, &riov, 1, 0, NULL);
		if (n > 0)
			got += (size_t)n;
	} while (n > 0 && got < sizeof(in));
	assert_int_equal(got, sizeof(out));
	assert_memory_equal(in, out, sizeof(out));
	iov = (struct iovec){ in, 1 };
	assert_int_equal(sock_recv(ps, &iov, 1, 0, NULL), 0); /* and the FIN */
	sock_close(ps);
	sock_close(g.ls);
	stack_destroy(T.peer_st);
	T.peer_st = NULL;
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_start_unconfigured_fails_with_reason, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_failure_is_reported_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_is_lazy_and_threads_share_instance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_ready_returns_0, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_deadline_returns_etimedout_not_before, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_kernel_fd_readable_returns_1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_drives_the_stack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_sleeps_then_wakes_on_device_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_signal_returns_eintr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_device_signal_is_not_eintr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_noted_signal_ends_a_busy_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_signal_noted_before_the_wait_is_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_progress_drives_the_stack_while_nobody_calls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_progress_leaves_a_held_or_waited_instance_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_is_recursive_and_excludes_others, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_threads_share_one_instance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_child_forgets_parent_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_releases_device_and_counters_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_drains_sent_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counters_file_layout_and_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counters_file_connection_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callback_inside_a_pass_cannot_reenter, setup, teardown),
	};
	return cmocka_run_group_tests_name("rt", tests, NULL, NULL);
}
