/* The channel of a closed listener's handover (stack/tcp/handover.c)
 * between the processes of a shared device: each process that listens on a
 * port listens on an abstract SOCK_SEQPACKET socket "demi-ho/DEVICE/PORT/PID"
 * (visible in /proc/net/unix of its network namespace, gone with the
 * process); a closed listener's connections and SYNs go to one of the
 * others' for the port, the same for a flow. Each process also listens on
 * "demi-ho/DEVICE/0/PID" for as long as its stack runs: a segment of a
 * connection another process may have goes to all of those (port 0 is
 * never a listener's). A sender keeps one connection per receiver; a
 * connection, unlike a datagram socket's queue of 10 (net.unix.
 * max_dgram_qlen), holds a burst of messages. Each process reads its
 * sockets at every housekeeping pass and sleeps on them too. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "demi/log.h"
#include "rt_impl.h"

#define HO_PREFIX "demi-ho/"
#define HO_SCAN_NS (20ull * 1000 * 1000) /* how long a list of siblings is reused */

static socklen_t ho_addr(struct sockaddr_un *a, uint16_t port, pid_t pid)
{
	int n;
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	n = snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, HO_PREFIX "%s/%u/%d", rt.cfg.device, port, (int)pid);
	if (n < 0 || (size_t)n >= sizeof(a->sun_path) - 1)
		n = (int)sizeof(a->sun_path) - 2;
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

static int pid_cmp(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* The other processes with a socket for port, from /proc/net/unix. */
static void ho_scan(struct rt_ho_port *hp)
{
	char line[512], want[160];
	size_t wl;
	FILE *f;

	hp->npeers = 0;
	wl = (size_t)snprintf(want, sizeof(want), "@" HO_PREFIX "%s/%u/", rt.cfg.device, hp->port);
	if (wl >= sizeof(want) || !(f = fopen("/proc/net/unix", "re")))
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, '@');
		int pid, i;
		if (!p || strncmp(p, want, wl) != 0 || (pid = atoi(p + wl)) <= 0 || pid == (int)getpid())
			continue;
		for (i = 0; i < hp->npeers && hp->peers[i] != pid; i++)
			; /* a listening socket and its connections show alike */
		if (i == hp->npeers && hp->npeers < RT_HO_PEERS)
			hp->peers[hp->npeers++] = pid;
	}
	fclose(f);
	qsort(hp->peers, (size_t)hp->npeers, sizeof(hp->peers[0]), pid_cmp);
}

static struct rt_ho_port *ho_port(struct rt_inst *in, uint16_t port, int make)
{
	struct rt_ho *ho = &in->ho;
	for (int i = 0; i < ho->nports; i++)
		if (ho->ports[i].port == port)
			return &ho->ports[i];
	if (!make || ho->nports >= RT_HO_PORTS)
		return NULL;
	memset(&ho->ports[ho->nports], 0, sizeof(ho->ports[0]));
	ho->ports[ho->nports].port = port;
	ho->ports[ho->nports].fd = -1;
	return &ho->ports[ho->nports++];
}

/* msg to pid's socket for port over the connection kept for it: 0 if sent. */
static int ho_send_to(struct rt_inst *in, uint16_t port, int pid, const void *msg, size_t len)
{
	struct rt_ho *ho = &in->ho;
	struct rt_ho_out *o = NULL, *fr = NULL;
	struct sockaddr_un a;

	for (int i = 0; i < RT_HO_OUT; i++) {
		if (ho->out[i].fd >= 0 && ho->out[i].port == port && ho->out[i].pid == pid)
			o = &ho->out[i];
		else if (ho->out[i].fd < 0 && !fr)
			fr = &ho->out[i];
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!o) {
			int fd;
			if (!fr || (fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
				return -1;
			if (connect(fd, (struct sockaddr *)&a, ho_addr(&a, port, pid)) != 0) {
				close(fd);
				return -1;
			}
			o = fr;
			o->fd = fd, o->port = port, o->pid = pid;
		}
		if (send(o->fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len)
			return 0;
		if (errno == EAGAIN)
			return -1; /* full: the receiver is behind */
		close(o->fd); /* it closed: connect again, once */
		o->fd = -1;
		fr = o;
		o = NULL;
	}
	return -1;
}

int rt_ho_send(void *arg, uint16_t lport, const void *msg, size_t len, uint32_t hash)
{
	struct rt_inst *in = arg;
	struct rt_ho_port *hp = ho_port(in, hash == UINT32_MAX ? 0 : lport, 1);
	uint64_t now = rt_now();

	if (!hp || !in->ho.on)
		return -1;
	if (now >= hp->scan_at) {
		ho_scan(hp);
		hp->scan_at = now + HO_SCAN_NS;
	}
	if (hash == UINT32_MAX) { /* to each */
		int sent = 0;
		for (int i = 0; i < hp->npeers; i++)
			sent |= ho_send_to(in, 0, hp->peers[i], msg, len) == 0;
		return sent ? 0 : -1;
	}
	for (int i = 0; i < hp->npeers; i++) {
		if (ho_send_to(in, lport, hp->peers[(hash + (uint32_t)i) % (uint32_t)hp->npeers], msg, len) == 0)
			return 0;
		hp->scan_at = 0; /* a sibling left or is behind: look again next time */
	}
	return -1;
}

/* What came on a connection (at most max messages), into the stack; 0
 * once it is closed. */
static int ho_read(struct rt_inst *in, int fd, int max)
{
	static uint8_t buf[96 * 1024];
	for (int k = 0; k < max; k++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return 0;
		if (n < 0)
			break;
		stack_handover_input(in->st, buf, (size_t)n);
	}
	return 1;
}

static void ho_in_close(struct rt_ho *ho, int i)
{
	close(ho->in[i].fd);
	ho->in[i] = ho->in[--ho->nin];
}

static void ho_accept(struct rt_ho *ho, struct rt_ho_port *hp)
{
	int fd;
	while (hp->fd >= 0 && (fd = accept4(hp->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (ho->nin >= RT_HO_IN) {
			close(fd);
			break;
		}
		ho->in[ho->nin].fd = fd;
		ho->in[ho->nin++].port = hp->port;
	}
}

/* Every socket of ours: new connections accepted, messages taken (all:
 * to the last, else a pass's worth). */
static void ho_read_all(struct rt_inst *in, int all)
{
	struct rt_ho *ho = &in->ho;
	for (int i = 0; i < ho->nports; i++)
		ho_accept(ho, &ho->ports[i]);
	for (int i = 0; i < ho->nin;)
		if (!ho_read(in, ho->in[i].fd, all ? 1 << 30 : 256))
			ho_in_close(ho, i);
		else
			i++;
}

/* Sockets for the ports the stack listens on now, none for the others.
 * A port's socket closes without losing a message: shut first (a sender's
 * connect is refused, its send on a connection fails: it goes elsewhere),
 * then every connection, accepted or not, is read (a closed listener hands
 * what came on), then closed. */
static void ho_ports_sync(struct rt_inst *in)
{
	uint16_t ports[RT_HO_PORTS + 1];
	int n = stack_tcp_listen_ports(in->st, ports, RT_HO_PORTS - 1);
	struct rt_ho *ho = &in->ho;
	struct sockaddr_un a;

	ports[n++] = 0; /* every process's: segments of no connection here */
	for (int i = 0; i < ho->nports; i++) {
		struct rt_ho_port *hp = &ho->ports[i];
		int want = 0;
		for (int j = 0; j < n; j++)
			want |= ports[j] == hp->port;
		if (want || hp->fd < 0)
			continue;
		shutdown(hp->fd, SHUT_RD);
		ho_accept(ho, hp);
		for (int k = 0; k < ho->nin; k++)
			if (ho->in[k].port == hp->port)
				shutdown(ho->in[k].fd, SHUT_RD);
		ho_read_all(in, 1);
		close(hp->fd);
		hp->fd = -1;
		for (int k = 0; k < ho->nin;)
			if (ho->in[k].port == hp->port)
				ho_in_close(ho, k);
			else
				k++;
	}
	for (int j = 0; j < n; j++) {
		struct rt_ho_port *hp = ho_port(in, ports[j], 1);
		if (!hp || hp->fd >= 0)
			continue;
		hp->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (hp->fd >= 0 && (bind(hp->fd, (struct sockaddr *)&a, ho_addr(&a, ports[j], getpid())) != 0 ||
				    listen(hp->fd, 256) != 0)) {
			demi_log(DEMI_LOG_WARN, "%s: no handover socket for port %u: %s", rt.cfg.device, ports[j],
				 strerror(errno));
			close(hp->fd);
			hp->fd = -1;
		}
	}
}

void rt_ho_poll(struct rt_inst *in)
{
	struct rt_ho *ho = &in->ho;
	uint32_t gen;

	if (!ho->on)
		return;
	if ((gen = stack_tcp_listen_gen(in->st)) != ho->gen) {
		ho->gen = gen;
		ho_ports_sync(in);
	}
	ho_read_all(in, 0);
	stack_handover_flush(in->st);
}

int rt_ho_fds(struct rt_inst *in, struct pollfd *fds)
{
	int n = 0;
	for (int i = 0; in->ho.on && i < in->ho.nports; i++)
		if (in->ho.ports[i].fd >= 0)
			fds[n++] = (struct pollfd){ .fd = in->ho.ports[i].fd, .events = POLLIN };
	for (int i = 0; in->ho.on && i < in->ho.nin; i++)
		fds[n++] = (struct pollfd){ .fd = in->ho.in[i].fd, .events = POLLIN };
	return n;
}

int rt_ho_start(struct rt_inst *in)
{
	memset(&in->ho, 0, sizeof(in->ho));
	if (!rt.cfg.stack.shared_dev)
		return 0;
	for (int i = 0; i < RT_HO_OUT; i++)
		in->ho.out[i].fd = -1;
	in->ho.on = 1;
	in->ho.gen = UINT32_MAX; /* the sockets at the first pass */
	return 1;
}

void rt_ho_stop(struct rt_inst *in)
{
	struct rt_ho *ho = &in->ho;
	for (int i = 0; ho->on && i < ho->nports; i++)
		if (ho->ports[i].fd >= 0)
			close(ho->ports[i].fd);
	for (int i = 0; ho->on && i < ho->nin; i++)
		close(ho->in[i].fd);
	for (int i = 0; ho->on && i < RT_HO_OUT; i++)
		if (ho->out[i].fd >= 0)
			close(ho->out[i].fd);
	memset(ho, 0, sizeof(*ho)); /* off: nothing of it is used */
}
