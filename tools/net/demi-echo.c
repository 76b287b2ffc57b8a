/* demi-echo: the stack's socket API driven through the runtime, no shim.
 *
 *   demi-echo -d DEVICE -a ADDR/LEN [-g GW] [-e EAL_ARGS] [-t SECS] MODE ...
 *
 *   serve                      answer ARP and ping only
 *   server tcp|udp PORT        echo every byte / datagram back; TCP: at the
 *                              peer's FIN, finish echoing, then FIN
 *   sink tcp PORT              read one connection to its end, check the
 *                              pattern, print bytes and rate
 *   client tcp IP:PORT -n BYTES [-c CHUNK] [-1]
 *                              send BYTES of a pattern, read the echo back
 *                              and check it byte for byte, half-close, expect
 *                              the server's FIN; -1: send only (to a sink)
 *   client udp IP:PORT -n COUNT [-s SIZE]
 *                              COUNT datagrams, each echoed and checked
 *   pingpong tcp|udp IP:PORT -n COUNT [-s SIZE]
 *                              round trips of SIZE bytes: p50/p99 and rate
 *   mserver tcp PORT           echo many connections at once, each message
 *                              as it comes (one receive and one send each)
 *   mping tcp IP:PORT -n COUNT [-s SIZE] [-w CONNS]
 *                              CONNS connections, each with one message of
 *                              SIZE bytes in flight, every echo checked:
 *                              messages per second through one server core
 *   connect tcp IP:PORT        one connect; prints the outcome (refused...)
 *   blast udp IP:PORT [-s SIZE] datagrams as fast as the stack takes them, until -t
 *   sink udp PORT              count datagrams until -t: datagrams/s
 *
 * -t SECS bounds the whole run (0: none). Exit 0 on success, 1 on a check
 * that failed, 2 on a start-up or usage error. The last line says what was
 * measured: "RESULT mode=... key=value ...". */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "demi/log.h"
#include "demi/rt.h"

static struct stack *st;
static volatile sig_atomic_t stop;
static uint64_t deadline = UINT64_MAX;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void die(int code, const char *fmt, const char *arg)
{
	fprintf(stderr, "demi-echo: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(code);
}

static inline uint8_t pattern(uint64_t off)
{
	return (uint8_t)(off * 7 + (off >> 13));
}

struct wev {
	struct sock *s;
	uint32_t ev;
};

static int ready_ev(void *a)
{
	struct wev *w = a;
	return (sock_events(w->s) & w->ev) != 0;
}

/* Wait until one of ev (or an error/hangup) shows on s. 0, or -ETIMEDOUT / -EINTR. */
static int wait_ev(struct sock *s, uint32_t ev)
{
	struct wev w = { s, ev | EPOLLERR | EPOLLHUP };
	for (;;) {
		int rc = rt_wait(st, ready_ev, &w, deadline, -1);
		if (rc == -EINTR && !stop)
			continue;
		return rc == -EINTR ? -EINTR : rc;
	}
}

static int parse_ipport(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *c = strrchr(s, ':');
	if (!c || (size_t)(c - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(c - s));
	host[c - s] = 0;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(c + 1));
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static int proto_type(const char *p)
{
	if (!strcmp(p, "tcp"))
		return SOCK_STREAM;
	if (!strcmp(p, "udp"))
		return SOCK_DGRAM;
	die(2, "protocol must be tcp or udp, not '%s'", p);
	return -1;
}

static struct sock *sock_new(int type)
{
	struct sock *s;
	int rc;
	rt_lock(st);
	rc = sock_create(st, type, &s);
	rt_unlock(st);
	if (rc != 0)
		die(1, "sock_create: %s", strerror(-rc));
	return s;
}

/* ---------------------------------------------------------------- serve */

static int ready_stop(void *a)
{
	(void)a;
	return stop;
}

static int run_serve(void)
{
	while (!stop) {
		int rc = rt_wait(st, ready_stop, NULL, deadline, -1);
		if (rc == -ETIMEDOUT)
			break;
	}
	printf("RESULT mode=serve\n");
	return 0;
}

/* -------------------------------------------------------------- servers */

static struct sock *listen_on(int type, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sock *s = sock_new(type);
	int rc, one = 1;
	rt_lock(st);
	sock_setopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	rc = sock_bind(s, &sa);
	if (rc == 0 && type == SOCK_STREAM)
		rc = sock_listen(s, 128);
	rt_unlock(st);
	if (rc != 0)
		die(1, "bind/listen: %s", strerror(-rc));
	return s;
}

static struct sock *accept_one(struct sock *l)
{
	struct sockaddr_in peer;
	struct sock *c;
	for (;;) {
		int rc;
		rt_lock(st);
		rc = sock_accept(l, &c, &peer);
		rt_unlock(st);
		if (rc == 0)
			return c;
		if (rc != -EAGAIN)
			die(1, "accept: %s", strerror(-rc));
		if (wait_ev(l, EPOLLIN) != 0)
			return NULL;
	}
}

/* Echo one TCP connection until the peer's FIN, then close. Returns bytes. */
static int64_t tcp_echo_conn(struct sock *c)
{
	static uint8_t buf[65536];
	size_t have = 0, off = 0;
	int64_t total = 0;
	int eof = 0;
	while (!stop) {
		struct iovec iov;
		ssize_t n;
		rt_lock(st);
		if (have == 0 && !eof) {
			iov = (struct iovec){ buf, sizeof(buf) };
			n = sock_recv(c, &iov, 1, 0, NULL);
			if (n > 0) {
				have = (size_t)n;
				off = 0;
				total += n;
			} else if (n == 0) {
				eof = 1;
			} else if (n != -EAGAIN) {
				rt_unlock(st);
				fprintf(stderr, "demi-echo: recv: %s\n", strerror((int)-n));
				break;
			}
		}
		if (have) {
			iov = (struct iovec){ buf + off, have };
			n = sock_send(c, &iov, 1, 0, NULL);
			if (n > 0) {
				off += (size_t)n;
				have -= (size_t)n;
			} else if (n != -EAGAIN) {
				rt_unlock(st);
				fprintf(stderr, "demi-echo: send: %s\n", strerror((int)-n));
				break;
			}
		}
		if (eof && !have) {
			sock_shutdown(c, SHUT_WR);
			rt_unlock(st);
			break;
		}
		rt_unlock(st);
		if (wait_ev(c, have ? EPOLLOUT : EPOLLIN | EPOLLRDHUP) != 0)
			break;
	}
	rt_lock(st);
	sock_close(c);
	rt_unlock(st);
	return total;
}

static int run_server_tcp(uint16_t port, int sink)
{
	struct sock *l = listen_on(SOCK_STREAM, port);
	int rc = 0;
	printf("listening tcp %u\n", port);
	fflush(stdout);
	while (!stop) {
		struct sock *c = accept_one(l);
		uint64_t t0, t1, total = 0, bad = UINT64_MAX;
		if (!c)
			break;
		t0 = rt_now();
		if (!sink) {
			int64_t n = tcp_echo_conn(c);
			printf("echoed %lld bytes\n", (long long)n);
			fflush(stdout);
			continue;
		}
		/* sink: read to the end, checking the pattern */
		for (;;) {
			static uint8_t buf[65536];
			struct iovec iov = { buf, sizeof(buf) };
			ssize_t n;
			rt_lock(st);
			n = sock_recv(c, &iov, 1, 0, NULL);
			rt_unlock(st);
			if (n > 0) {
				for (ssize_t i = 0; i < n && bad == UINT64_MAX; i++)
					if (buf[i] != pattern(total + (uint64_t)i))
						bad = total + (uint64_t)i;
				total += (uint64_t)n;
				continue;
			}
			if (n == 0 || (n != -EAGAIN) || wait_ev(c, EPOLLIN | EPOLLRDHUP) != 0)
				break;
		}
		t1 = rt_now();
		rt_lock(st);
		sock_close(c);
		rt_unlock(st);
		printf("RESULT mode=sink bytes=%llu secs=%.3f mbit_per_s=%.1f ok=%d\n",
		       (unsigned long long)total, (double)(t1 - t0) / 1e9,
		       (double)total * 8 / ((double)(t1 - t0) / 1e9) / 1e6, bad == UINT64_MAX);
		if (bad != UINT64_MAX) {
			printf("pattern mismatch at byte %llu\n", (unsigned long long)bad);
			rc = 1;
		}
		fflush(stdout);
	}
	return rc;
}

static int run_server_udp(uint16_t port)
{
	static uint8_t buf[65536];
	struct sock *s = listen_on(SOCK_DGRAM, port);
	uint64_t n_dgrams = 0;
	printf("listening udp %u\n", port);
	fflush(stdout);
	while (!stop) {
		struct sockaddr_in from;
		struct iovec iov = { buf, sizeof(buf) };
		ssize_t n;
		rt_lock(st);
		n = sock_recv(s, &iov, 1, 0, &from);
		if (n >= 0) {
			iov.iov_len = (size_t)n;
			sock_send(s, &iov, 1, 0, &from);
			n_dgrams++;
		}
		rt_unlock(st);
		if (n == -EAGAIN && wait_ev(s, EPOLLIN) != 0)
			break;
		if (n < 0 && n != -EAGAIN)
			die(1, "udp recv: %s", strerror((int)-n));
	}
	printf("RESULT mode=server-udp datagrams=%llu\n", (unsigned long long)n_dgrams);
	return 0;
}

/* -------------------------------------------------------------- clients */

static struct sock *tcp_connect(const struct sockaddr_in *to, int *err)
{
	struct sock *s = sock_new(SOCK_STREAM);
	int rc;
	rt_lock(st);
	rc = sock_connect(s, to);
	rt_unlock(st);
	if (rc == -EINPROGRESS) {
		if ((rc = wait_ev(s, EPOLLOUT)) == 0) {
			rt_lock(st);
			rc = -sock_take_error(s);
			if (rc == 0 && !(sock_events(s) & EPOLLOUT))
				rc = -ECONNREFUSED;
			rt_unlock(st);
		}
	}
	*err = rc;
	if (rc != 0) {
		rt_lock(st);
		sock_close(s);
		rt_unlock(st);
		return NULL;
	}
	return s;
}

static int run_connect(const struct sockaddr_in *to)
{
	int rc;
	struct sock *s = tcp_connect(to, &rc);
	printf("RESULT mode=connect result=%s\n", rc == 0 ? "connected" :
	       rc == -ECONNREFUSED ? "refused" : rc == -ETIMEDOUT ? "timeout" : strerror(-rc));
	if (s) {
		rt_lock(st);
		sock_close(s);
		rt_unlock(st);
	}
	return rc == 0 ? 0 : 1;
}

static int run_client_tcp(const struct sockaddr_in *to, uint64_t bytes, size_t chunk, int oneway)
{
	static uint8_t tx[65536], rx[65536];
	uint64_t sent = 0, got = 0, t0, t1;
	int rc, shut = 0, fin = 0;
	struct sock *s = tcp_connect(to, &rc);
	if (!s) {
		printf("RESULT mode=client-tcp error=%s\n", strerror(-rc));
		return 1;
	}
	if (chunk > sizeof(tx))
		chunk = sizeof(tx);
	t0 = rt_now();
	while (!stop) {
		uint32_t want = 0;
		rt_lock(st);
		while (sent < bytes) {
			size_t n = bytes - sent < chunk ? (size_t)(bytes - sent) : chunk;
			struct iovec iov = { tx, n };
			ssize_t w;
			for (size_t i = 0; i < n; i++)
				tx[i] = pattern(sent + i);
			w = sock_send(s, &iov, 1, 0, NULL);
			if (w == -EAGAIN)
				break;
			if (w < 0) {
				rt_unlock(st);
				printf("RESULT mode=client-tcp error=send:%s sent=%llu\n", strerror((int)-w),
				       (unsigned long long)sent);
				return 1;
			}
			sent += (uint64_t)w;
		}
		if (sent == bytes && !shut) {
			sock_shutdown(s, SHUT_WR); /* half-close: the server echoes the rest, then FINs */
			shut = 1;
		}
		for (;;) {
			struct iovec iov = { rx, sizeof(rx) };
			ssize_t r = sock_recv(s, &iov, 1, 0, NULL);
			if (r == -EAGAIN)
				break;
			if (r < 0) {
				rt_unlock(st);
				printf("RESULT mode=client-tcp error=recv:%s got=%llu\n", strerror((int)-r),
				       (unsigned long long)got);
				return 1;
			}
			if (r == 0) {
				fin = 1;
				break;
			}
			if (oneway) {
				rt_unlock(st);
				printf("RESULT mode=client-tcp error=unexpected-data\n");
				return 1;
			}
			for (ssize_t i = 0; i < r; i++)
				if (rx[i] != pattern(got + (uint64_t)i)) {
					rt_unlock(st);
					printf("RESULT mode=client-tcp error=mismatch at=%llu\n",
					       (unsigned long long)(got + (uint64_t)i));
					return 1;
				}
			got += (uint64_t)r;
		}
		rt_unlock(st);
		if (fin)
			break;
		if (sent < bytes)
			want |= EPOLLOUT;
		want |= EPOLLIN | EPOLLRDHUP;
		if ((rc = wait_ev(s, want)) != 0) {
			printf("RESULT mode=client-tcp error=%s sent=%llu got=%llu\n", strerror(-rc),
			       (unsigned long long)sent, (unsigned long long)got);
			return 1;
		}
	}
	t1 = rt_now();
	rt_lock(st);
	sock_close(s);
	rt_unlock(st);
	{
		uint64_t moved = oneway ? sent : got;
		int ok = fin && sent == bytes && (oneway || got == bytes);
		double secs = (double)(t1 - t0) / 1e9;
		printf("RESULT mode=client-tcp bytes=%llu sent=%llu echoed=%llu secs=%.3f mbit_per_s=%.1f ok=%d\n",
		       (unsigned long long)bytes, (unsigned long long)sent, (unsigned long long)got, secs,
		       (double)moved * 8 / secs / 1e6, ok);
		return ok ? 0 : 1;
	}
}

struct wudp {
	struct sock *s;
};

/* One datagram out and its echo back; retries a lost one. RTT in ns, or 0. */
static uint64_t udp_round(struct sock *s, const struct sockaddr_in *to, uint8_t *buf, size_t size,
			  uint64_t seq, int *bad)
{
	static uint8_t rx[65536];
	/* the first datagram also finds the path (ARP, a peer still coming
	 * up): it gets more tries */
	for (int attempt = 0; attempt < (seq == 0 ? 50 : 5) && !stop; attempt++) {
		uint64_t t0 = rt_now(), until = t0 + 200 * 1000 * 1000ull;
		struct iovec iov = { buf, size };
		ssize_t n;
		rt_lock(st);
		n = sock_send(s, &iov, 1, 0, to);
		rt_unlock(st);
		if (n < 0 && n != -EAGAIN)
			die(1, "udp send: %s", strerror((int)-n));
		for (;;) {
			struct wev w = { s, EPOLLIN };
			struct iovec ri = { rx, sizeof(rx) };
			uint64_t got_seq;
			int rc;
			rt_lock(st);
			n = sock_recv(s, &ri, 1, 0, NULL);
			rt_unlock(st);
			if (n >= 8) {
				memcpy(&got_seq, rx, 8);
				if (got_seq != seq)
					continue; /* a late echo of an earlier try */
				if ((size_t)n != size || memcmp(rx, buf, size) != 0)
					*bad = 1;
				return rt_now() - t0;
			}
			rc = rt_wait(st, ready_ev, &w, until < deadline ? until : deadline, -1);
			if (rc == -ETIMEDOUT || stop)
				break;
		}
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int run_udp(const struct sockaddr_in *to, uint64_t count, size_t size, int pingpong)
{
	static uint8_t buf[65536];
	struct sock *s = sock_new(SOCK_DGRAM);
	uint64_t *rtt = calloc(count ? count : 1, sizeof(*rtt)), n_ok = 0, lost = 0, t0, t1;
	int bad = 0;
	if (size < 8)
		size = 8;
	if (size > 65507) /* above the MTU the stack sends fragments */
		size = 65507;
	t0 = rt_now();
	for (uint64_t i = 0; i < count && !stop; i++) {
		uint64_t r;
		memcpy(buf, &i, 8);
		for (size_t k = 8; k < size; k++)
			buf[k] = pattern(i + k);
		r = udp_round(s, to, buf, size, i, &bad);
		if (r)
			rtt[n_ok++] = r;
		else
			lost++;
	}
	t1 = rt_now();
	qsort(rtt, n_ok, sizeof(*rtt), cmp_u64);
	printf("RESULT mode=%s proto=udp count=%llu size=%zu lost=%llu bad=%d",
	       pingpong ? "pingpong" : "client-udp", (unsigned long long)count, size,
	       (unsigned long long)lost, bad);
	if (n_ok)
		printf(" rtt_p50_us=%.2f rtt_p99_us=%.2f rtt_per_s=%.0f", rtt[n_ok / 2] / 1e3,
		       rtt[n_ok * 99 / 100] / 1e3, (double)n_ok / ((double)(t1 - t0) / 1e9));
	printf(" ok=%d\n", !bad && lost == 0 && n_ok == count);
	free(rtt);
	rt_lock(st);
	sock_close(s);
	rt_unlock(st);
	return !bad && lost == 0 && n_ok == count ? 0 : 1;
}

static int run_pingpong_tcp(const struct sockaddr_in *to, uint64_t count, size_t size)
{
	static uint8_t tx[65536], rx[65536];
	uint64_t *rtt = calloc(count ? count : 1, sizeof(*rtt)), t0, t1, done = 0;
	int rc, one = 1;
	struct sock *s = tcp_connect(to, &rc);
	if (!s) {
		printf("RESULT mode=pingpong proto=tcp error=%s\n", strerror(-rc));
		return 1;
	}
	rt_lock(st);
	sock_setopt(s, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof(one));
	rt_unlock(st);
	if (size > sizeof(tx))
		size = sizeof(tx);
	t0 = rt_now();
	for (; done < count && !stop; done++) {
		uint64_t a = rt_now();
		size_t off = 0, got = 0;
		while (off < size) {
			struct iovec iov = { tx + off, size - off };
			ssize_t n;
			rt_lock(st);
			n = sock_send(s, &iov, 1, 0, NULL);
			rt_unlock(st);
			if (n > 0)
				off += (size_t)n;
			else if (n != -EAGAIN || wait_ev(s, EPOLLOUT) != 0)
				goto out;
		}
		while (got < size) {
			struct iovec iov = { rx + got, size - got };
			ssize_t n;
			rt_lock(st);
			n = sock_recv(s, &iov, 1, 0, NULL);
			rt_unlock(st);
			if (n > 0)
				got += (size_t)n;
			else if (n != -EAGAIN || wait_ev(s, EPOLLIN | EPOLLRDHUP) != 0)
				goto out;
		}
		rtt[done] = rt_now() - a;
	}
out:
	t1 = rt_now();
	qsort(rtt, done, sizeof(*rtt), cmp_u64);
	printf("RESULT mode=pingpong proto=tcp count=%llu size=%zu", (unsigned long long)done, size);
	if (done)
		printf(" rtt_p50_us=%.2f rtt_p99_us=%.2f rtt_per_s=%.0f", rtt[done / 2] / 1e3,
		       rtt[done * 99 / 100] / 1e3, (double)done / ((double)(t1 - t0) / 1e9));
	printf(" ok=%d\n", done == count);
	free(rtt);
	rt_lock(st);
	sock_close(s);
	rt_unlock(st);
	return done == count ? 0 : 1;
}

/* ------------------------------------- many connections, one message each */

#define MCONN_MAX 1024

struct mconn {
	struct sock *s;
	uint8_t buf[2048];
	size_t have, off; /* server: bytes to echo back; client: bytes echoed */
	uint64_t seq;     /* client: the message in flight */
	int queued;       /* on the ready list */
};

/* Connections whose readiness may have changed, as the stack's notify
 * callback reports them: a pass handles those only, as epoll would. */
static struct mconn *mconns;
static unsigned n_mconns, *m_ready, n_ready;
static struct sock *m_listener;
static int m_accept;

static void m_notify(struct sock *s, void *arg)
{
	struct mconn *c = arg;
	if (s == m_listener) {
		m_accept = 1;
		return;
	}
	if (!c->queued) {
		c->queued = 1;
		m_ready[n_ready++] = (unsigned)(c - mconns);
	}
}

static int ready_any(void *a)
{
	(void)a;
	return stop || n_ready || m_accept;
}

/* The ready list taken: *out gets the indices, the list starts anew. */
static unsigned m_take(unsigned *out)
{
	unsigned n = n_ready;
	for (unsigned i = 0; i < n; i++) {
		out[i] = m_ready[i];
		mconns[out[i]].queued = 0;
	}
	n_ready = 0;
	return n;
}

/* Echo every connection: per pass, one receive and one send per ready
 * connection, so each message costs the stack what a request does. */
static int run_mserver_tcp(uint16_t port)
{
	static unsigned work[MCONN_MAX];
	uint64_t echoed = 0, conns = 0;
	mconns = calloc(MCONN_MAX, sizeof(*mconns));
	m_ready = calloc(MCONN_MAX, sizeof(*m_ready));
	m_listener = listen_on(SOCK_STREAM, port);
	rt_lock(st);
	sock_set_notify(m_listener, m_notify, NULL);
	m_accept = 1;
	rt_unlock(st);
	printf("listening tcp %u\n", port);
	fflush(stdout);
	while (!stop) {
		unsigned nw;
		rt_lock(st);
		for (m_accept = 0;;) {
			struct sockaddr_in peer;
			struct sock *c;
			unsigned i;
			if (sock_accept(m_listener, &c, &peer) != 0)
				break;
			for (i = 0; i < n_mconns && mconns[i].s; i++)
				;
			if (i == MCONN_MAX) {
				sock_close(c);
				continue;
			}
			int one = 1;
			sock_setopt(c, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof(one));
			mconns[i] = (struct mconn){ .s = c };
			n_mconns += i == n_mconns;
			conns++;
			sock_set_notify(c, m_notify, &mconns[i]);
			m_notify(c, &mconns[i]);
		}
		nw = m_take(work);
		for (unsigned k = 0; k < nw; k++) {
			struct mconn *c = &mconns[work[k]];
			struct iovec iov;
			ssize_t n;
			if (!c->s)
				continue;
			if (!c->have) {
				iov = (struct iovec){ c->buf, sizeof(c->buf) };
				n = sock_recv(c->s, &iov, 1, 0, NULL);
				if (n > 0) {
					c->have = (size_t)n;
					c->off = 0;
				} else if (n != -EAGAIN) { /* end or error */
					sock_set_notify(c->s, NULL, NULL);
					sock_close(c->s);
					c->s = NULL;
					continue;
				}
			}
			if (c->have) {
				iov = (struct iovec){ c->buf + c->off, c->have };
				n = sock_send(c->s, &iov, 1, 0, NULL);
				if (n > 0) {
					c->off += (size_t)n;
					c->have -= (size_t)n;
					echoed += (uint64_t)n;
				} else if (n != -EAGAIN) {
					sock_set_notify(c->s, NULL, NULL);
					sock_close(c->s);
					c->s = NULL;
				}
			}
			/* more may have come than one receive took */
			if (c->s && !c->have && (sock_events(c->s) & (EPOLLIN | EPOLLRDHUP | EPOLLERR)))
				m_notify(c->s, c);
		}
		rt_unlock(st);
		if (rt_wait(st, ready_any, NULL, deadline, -1) == -ETIMEDOUT)
			break;
	}
	printf("RESULT mode=mserver proto=tcp conns=%llu bytes=%llu\n", (unsigned long long)conns,
	       (unsigned long long)echoed);
	return 0;
}

static void msg_fill(uint8_t *b, size_t size, uint64_t seq)
{
	for (size_t k = 0; k < size; k++)
		b[k] = pattern(seq * 131 + k);
}

static int m_send(struct mconn *c, size_t size)
{
	uint8_t msg[2048];
	struct iovec iov = { msg, size };
	ssize_t n;
	msg_fill(msg, size, c->seq);
	n = sock_send(c->s, &iov, 1, 0, NULL);
	/* one message in flight always fits the send buffer */
	return n == (ssize_t)size ? 0 : -1;
}

static int run_mping_tcp(const struct sockaddr_in *to, uint64_t count, size_t size, unsigned w)
{
	static unsigned work[MCONN_MAX];
	uint64_t done = 0, sent = 0, t0, t1;
	int bad = 0, rc;
	if (size > 2048)
		size = 2048;
	if (!w || w > MCONN_MAX)
		w = w ? MCONN_MAX : 1;
	mconns = calloc(w, sizeof(*mconns));
	m_ready = calloc(w, sizeof(*m_ready));
	for (unsigned i = 0; i < w; i++) {
		int one = 1;
		if (!(mconns[i].s = tcp_connect(to, &rc))) {
			printf("RESULT mode=mping proto=tcp error=connect:%s\n", strerror(-rc));
			return 1;
		}
		rt_lock(st);
		sock_setopt(mconns[i].s, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof(one));
		sock_set_notify(mconns[i].s, m_notify, &mconns[i]);
		rt_unlock(st);
	}
	n_mconns = w;
	t0 = rt_now();
	rt_lock(st);
	for (unsigned i = 0; i < w && sent < count; i++, sent++)
		if ((mconns[i].seq = sent, m_send(&mconns[i], size)) != 0)
			bad = 1;
	rt_unlock(st);
	while (!bad && !stop && done < count) {
		unsigned nw;
		rt_lock(st);
		nw = m_take(work);
		for (unsigned k = 0; k < nw && !bad; k++) {
			struct mconn *c = &mconns[work[k]];
			uint8_t want[2048];
			struct iovec iov = { c->buf + c->off, size - c->off };
			ssize_t n;
			if (!c->s)
				continue;
			n = sock_recv(c->s, &iov, 1, 0, NULL);
			if (n == -EAGAIN)
				continue;
			if (n <= 0) {
				bad = 1;
				break;
			}
			if ((c->off += (size_t)n) < size)
				continue;
			msg_fill(want, size, c->seq);
			if (memcmp(want, c->buf, size)) {
				bad = 1;
				break;
			}
			c->off = 0;
			done++;
			if (sent < count) {
				c->seq = sent++;
				bad = m_send(c, size) != 0;
			}
		}
		rt_unlock(st);
		if (!bad && done < count && rt_wait(st, ready_any, NULL, deadline, -1) == -ETIMEDOUT)
			break;
	}
	t1 = rt_now();
	printf("RESULT mode=mping proto=tcp conns=%u size=%zu count=%llu msgs_per_s=%.0f ok=%d\n", w, size,
	       (unsigned long long)done, (double)done / ((double)(t1 - t0) / 1e9), !bad && done == count);
	rt_lock(st);
	for (unsigned i = 0; i < w; i++)
		if (mconns[i].s) {
			sock_set_notify(mconns[i].s, NULL, NULL);
			sock_close(mconns[i].s);
		}
	rt_unlock(st);
	return !bad && done == count ? 0 : 1;
}

/* --------------------------------------------------- one-way UDP rate */

static int run_blast_udp(const struct sockaddr_in *to, size_t size)
{
	static uint8_t buf[2048];
	struct sock *s = sock_new(SOCK_DGRAM);
	uint64_t sent = 0, full = 0, t0 = rt_now(), t1;
	if (deadline == UINT64_MAX)
		die(2, "%s", "blast needs -t SECS");
	if (size > 1472)
		size = 1472;
	for (size_t k = 0; k < size; k++)
		buf[k] = pattern(k);
	while (!stop && rt_now() < deadline) {
		rt_lock(st);
		for (int i = 0; i < 32; i++) {
			struct iovec iov = { buf, size };
			ssize_t n = sock_send(s, &iov, 1, 0, to);
			if (n < 0) {
				full++;
				break;
			}
			sent++;
		}
		rt_unlock(st);
		rt_poll(st); /* flush, and take in what came (ARP) */
	}
	t1 = rt_now();
	printf("RESULT mode=blast proto=udp size=%zu datagrams=%llu refused=%llu pps=%.0f\n", size,
	       (unsigned long long)sent, (unsigned long long)full, (double)sent / ((double)(t1 - t0) / 1e9));
	rt_lock(st);
	sock_close(s);
	rt_unlock(st);
	return sent ? 0 : 1;
}

static int run_sink_udp(uint16_t port)
{
	static uint8_t buf[2048];
	struct sock *s = listen_on(SOCK_DGRAM, port);
	uint64_t n = 0, first = 0, last = 0;
	if (deadline == UINT64_MAX)
		die(2, "%s", "sink udp needs -t SECS");
	printf("listening udp %u\n", port);
	fflush(stdout);
	while (!stop) {
		struct iovec iov = { buf, sizeof(buf) };
		ssize_t r;
		rt_lock(st);
		while ((r = sock_recv(s, &iov, 1, 0, NULL)) >= 0) {
			last = rt_now();
			if (!n)
				first = last;
			n++;
		}
		rt_unlock(st);
		if (wait_ev(s, EPOLLIN) != 0)
			break;
	}
	printf("RESULT mode=sink proto=udp datagrams=%llu pps=%.0f\n", (unsigned long long)n,
	       last > first ? (double)n / ((double)(last - first) / 1e9) : 0.0);
	return n ? 0 : 1;
}

/* ----------------------------------------------------------------- main */

static void usage(void)
{
	fprintf(stderr,
		"usage: demi-echo -d DEVICE -a ADDR/LEN [-g GW] [-e EAL_ARGS] [-t SECS] [-S SPIN_US] [-C cubic|newreno] MODE ...\n"
		"  serve | server tcp|udp PORT | sink tcp PORT | connect tcp IP:PORT\n"
		"  client tcp IP:PORT -n BYTES [-c CHUNK] [-1] | client udp IP:PORT -n COUNT [-s SIZE]\n"
		"  pingpong tcp|udp IP:PORT -n COUNT [-s SIZE]\n"
		"  mserver tcp PORT | mping tcp IP:PORT -n COUNT [-s SIZE] [-w CONNS]\n"
		"  blast udp IP:PORT [-s SIZE] -t SECS | sink udp PORT -t SECS\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct rt_cfg cfg;
	const char *addr = NULL, *gw = NULL, *mode;
	uint64_t n = 1 << 20, secs = 0;
	size_t chunk = 16384, size = 64;
	int oneway = 0, opt, rc;
	unsigned conns = 16;
	char a[64], *slash;

	demi_log_stderr(); /* the driver's lines, as DEMI_LOG asks */
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.name, sizeof(cfg.name), "demi-echo");
	/* options may follow the mode's arguments */
	while ((opt = getopt(argc, argv, "+d:a:g:e:t:n:c:s:S:w:C:1h")) != -1 || optind < argc) {
		if (opt == -1) {
			optind++; /* a positional argument: skip it for now */
			continue;
		}
		switch (opt) {
		case 'd': snprintf(cfg.device, sizeof(cfg.device), "%s", optarg); break;
		case 'a': addr = optarg; break;
		case 'g': gw = optarg; break;
		case 'e': snprintf(cfg.eal_args, sizeof(cfg.eal_args), "%s", optarg); break;
		case 't': secs = strtoull(optarg, NULL, 0); break;
		case 'n': n = strtoull(optarg, NULL, 0); break;
		case 'c': chunk = strtoull(optarg, NULL, 0); break;
		case 's': size = strtoull(optarg, NULL, 0); break;
		case 'S': cfg.spin_us = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'w': conns = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'C': cfg.stack.cc = strcmp(optarg, "newreno") ? STACK_CC_CUBIC : STACK_CC_NEWRENO; break;
		case '1': oneway = 1; break;
		default: usage();
		}
	}
	/* the positional arguments, in order */
	{
		char *pos[4];
		int np = 0;
		for (int i = 1; i < argc && np < 4; i++) {
			if (argv[i][0] == '-') {
				if (strchr("dagetncsSwC", argv[i][1]) && !argv[i][2])
					i++;
				continue;
			}
			pos[np++] = argv[i];
		}
		if (!cfg.device[0] || !addr || np < 1)
			usage();
		mode = pos[0];
		snprintf(a, sizeof(a), "%s", addr);
		slash = strchr(a, '/');
		cfg.stack.prefix_len = slash ? (uint8_t)atoi(slash + 1) : 24;
		if (slash)
			*slash = 0;
		if (inet_pton(AF_INET, a, &cfg.stack.addr) != 1)
			die(2, "bad address '%s'", addr);
		if (gw && inet_pton(AF_INET, gw, &cfg.stack.gateway) != 1)
			die(2, "bad gateway '%s'", gw);
		cfg.stack.gratuitous_arp = 1;

		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		signal(SIGPIPE, SIG_IGN);
		if ((rc = rt_configure(&cfg)) != 0)
			die(2, "rt_configure: %s", strerror(-rc));
		if (!(st = rt_stack()))
			die(2, "%s", rt_error());
		if (secs)
			deadline = rt_now() + secs * 1000000000ull;
		fprintf(stderr, "demi-echo: up on %s as %s\n", cfg.device, addr);

		if (!strcmp(mode, "serve"))
			return run_serve();
		if (np < 3 && strcmp(mode, "serve"))
			usage();
		if (!strcmp(mode, "server"))
			return proto_type(pos[1]) == SOCK_STREAM ? run_server_tcp((uint16_t)atoi(pos[2]), 0)
								 : run_server_udp((uint16_t)atoi(pos[2]));
		if (!strcmp(mode, "mserver") && proto_type(pos[1]) == SOCK_STREAM)
			return run_mserver_tcp((uint16_t)atoi(pos[2]));
		if (!strcmp(mode, "sink"))
			return proto_type(pos[1]) == SOCK_STREAM ? run_server_tcp((uint16_t)atoi(pos[2]), 1)
								 : run_sink_udp((uint16_t)atoi(pos[2]));
		{
			struct sockaddr_in to;
			int type = proto_type(pos[1]);
			if (parse_ipport(pos[2], &to) != 0)
				die(2, "bad IP:PORT '%s'", pos[2]);
			if (!strcmp(mode, "connect"))
				return run_connect(&to);
			if (!strcmp(mode, "client"))
				return type == SOCK_STREAM ? run_client_tcp(&to, n, chunk, oneway)
							   : run_udp(&to, n, size, 0);
			if (!strcmp(mode, "blast") && type == SOCK_DGRAM)
				return run_blast_udp(&to, size);
			if (!strcmp(mode, "mping") && type == SOCK_STREAM)
				return run_mping_tcp(&to, n, size, conns);
			if (!strcmp(mode, "pingpong"))
				return type == SOCK_STREAM ? run_pingpong_tcp(&to, n, size) : run_udp(&to, n, size, 1);
		}
		usage();
	}
	return 2;
}
