/* The data path: read/write/send/recv and their vector, message, multi-message,
 * sendfile and _chk forms. For a kernel fd a wrapper costs one table look-up;
 * for a bypassed socket it is a stack call under rt_lock, no system call, no
 * allocation. Blocking calls wait in rt_wait(), honouring SO_RCVTIMEO and
 * SO_SNDTIMEO, and return EINTR when a signal handler runs. */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "shim.h"

#define IO_KERNEL (-0x10000) /* internal: the socket fell back to the kernel, redo there */

static size_t iov_total(const struct iovec *iov, int n)
{
	size_t t = 0;
	for (int i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

/* Drop `done` bytes from the front of an iovec array copied into tmp. */
static int iov_advance(struct iovec *tmp, int n, size_t done, struct iovec **out)
{
	int i = 0;
	while (i < n && done >= tmp[i].iov_len)
		done -= tmp[i++].iov_len;
	if (i < n) {
		tmp[i].iov_base = (char *)tmp[i].iov_base + done;
		tmp[i].iov_len -= done;
	}
	*out = tmp + i;
	return n - i;
}

/* A buffer in the first page (NULL and near it), which the stack would
 * fault on where the kernel returns EFAULT. Only that page is checked: a
 * check of any address would cost a system call per call. */
static int iov_bad(const struct iovec *iov, int n)
{
	for (int i = 0; i < n; i++)
		if (iov[i].iov_len && (uintptr_t)iov[i].iov_base < 4096)
			return 1;
	return 0;
}

static int io_ready(struct ssock *ss, int fd)
{
	if (unlikely(!ss->sk)) {
		int a = ss_attach(ss, fd);
		if (a)
			return a > 0 ? IO_KERNEL : a;
	}
	return ss->dead;
}

/* sock_recv with Linux's blocking, MSG_DONTWAIT and MSG_WAITALL semantics. */
static ssize_t io_recv(struct ssock *ss, int fd, const struct iovec *iov, int iovcnt, int flags,
		       union ss_addr *from)
{
	int nb, waitall, polled = 0, cnt = iovcnt, bad = 0;
	uint64_t deadline = 0;
	size_t total = 0, got = 0;
	struct iovec tmp[64], probe;
	const struct iovec *cur = iov;
	char pb;
	ssize_t r;

	if ((r = io_ready(ss, fd)))
		return r;
	if (iovcnt < 0 || iovcnt > IOV_MAX)
		return -EINVAL;
	if (unlikely(iov_bad(iov, iovcnt))) {
		/* EFAULT once there is data to copy, as Linux: until then
		 * the call waits as any other (EOF is 0) */
		bad = 1;
		probe = (struct iovec){&pb, 1};
		cur = &probe;
		cnt = 1;
		flags |= MSG_PEEK;
	}
	nb = ss->nonblock || (flags & MSG_DONTWAIT);
	waitall = (flags & MSG_WAITALL) && ss->type == SOCK_STREAM && !(flags & MSG_PEEK) && !nb &&
		  iovcnt <= 64;
	flags &= ~(MSG_DONTWAIT | MSG_WAITALL | MSG_NOSIGNAL | MSG_CMSG_CLOEXEC);
	if (waitall) {
		memcpy(tmp, iov, (size_t)iovcnt * sizeof(*iov));
		total = iov_total(iov, iovcnt);
	}
	for (;;) {
		rt_lock(ss->st);
		r = sock_recv(ss->sk, cur, cnt, flags, from ? &from->sa : NULL);
		rt_unlock(ss->st);
		if (unlikely(bad) && r > 0)
			return -EFAULT;
		if (r > 0 && waitall && got + (size_t)r < total) {
			struct iovec *next;
			got += (size_t)r;
			cnt = iov_advance(tmp, iovcnt, got, &next);
			cur = next;
			continue;
		}
		if (r != -EAGAIN)
			return r >= 0 ? (ssize_t)got + r : (got ? (ssize_t)got : r);
		if (nb) {
			if (polled++)
				return -EAGAIN;
			rt_poll(ss->st);
			continue;
		}
		if (!deadline)
			deadline = ss_deadline(&ss->rcvtimeo);
		int w = ss_wait(ss, EPOLLIN | EPOLLRDHUP, deadline, -1);
		if (w < 0)
			return got ? (ssize_t)got : w;
	}
}

/* A pending error (EPOLLERR) on the socket. */
static int io_send_failed(struct ssock *ss)
{
	uint32_t ev;
	rt_lock(ss->st);
	ev = sock_events(ss->sk);
	rt_unlock(ss->st);
	return (ev & EPOLLERR) != 0;
}

/* sock_send with Linux's semantics: a blocking stream send returns when all
 * is queued (or on timeout/signal with the count so far); EPIPE raises SIGPIPE
 * unless MSG_NOSIGNAL. */
static ssize_t io_send(struct ssock *ss, int fd, const struct iovec *iov, int iovcnt, int flags,
		       const struct sockaddr_in *to)
{
	int nb, polled = 0, cnt = iovcnt, sflags;
	uint64_t deadline = 0;
	size_t total, done = 0;
	struct iovec tmp[64];
	const struct iovec *cur = iov;
	ssize_t r;

	if ((r = io_ready(ss, fd)))
		return r;
	if (iovcnt < 0 || iovcnt > IOV_MAX)
		return -EINVAL;
	if (unlikely(iov_bad(iov, iovcnt)))
		return -EFAULT;
	nb = ss->nonblock || (flags & MSG_DONTWAIT);
	sflags = flags & MSG_MORE;
	total = iov_total(iov, iovcnt);
	for (;;) {
		rt_lock(ss->st);
		r = sock_send(ss->sk, cur, cnt, sflags, to);
		rt_unlock(ss->st);
		if (r >= 0) {
			done += (size_t)r;
			if (done >= total || nb || ss->type != SOCK_STREAM || iovcnt > 64)
				return (ssize_t)done;
			if (cur == iov)
				memcpy(tmp, iov, (size_t)iovcnt * sizeof(*iov));
			struct iovec *next;
			cnt = iov_advance(tmp, iovcnt, done, &next);
			cur = next;
			continue;
		}
		if (r != -EAGAIN) {
			if (r == -EPIPE && !(flags & MSG_NOSIGNAL))
				ss_sigpipe();
			return done ? (ssize_t)done : r;
		}
		/* an error after part was queued: the count now, the error to
		 * the next call (Linux's tcp_sendmsg), so it must not be taken */
		if (done && io_send_failed(ss))
			return (ssize_t)done;
		if (nb) {
			if (polled++)
				return done ? (ssize_t)done : -EAGAIN;
			rt_poll(ss->st);
			continue;
		}
		if (!deadline)
			deadline = ss_deadline(&ss->sndtimeo);
		int w = ss_wait(ss, EPOLLOUT, deadline, -1);
		if (w < 0)
			return done ? (ssize_t)done : w;
		if (done && io_send_failed(ss))
			return (ssize_t)done;
	}
}

/* ss_enter(fd, SS_ENTER_BYPASSED) for a send with a destination (to, or
 * NULL): a UDP candidate is decided here by its first destination. */
static struct ssock *ss_enter_dest(int fd, const struct sockaddr *to, socklen_t tolen)
{
	struct ssock *ss = ss_enter(fd, SS_ENTER_ANY);
	if (!ss)
		return NULL;
	if (ss->state == SS_CANDIDATE) {
		struct sockaddr_in sin;
		if (ss->type == SOCK_DGRAM && to && tolen >= sizeof(sin) && to->sa_family == AF_INET) {
			memcpy(&sin, to, sizeof(sin));
			ss_decide_dest(ss, fd, (const struct sockaddr *)&sin);
		}
	}
	if (ss->state != SS_BYPASS) {
		ss_release(ss);
		return NULL;
	}
	return ss;
}

static int sin_from(const struct sockaddr *to, socklen_t tolen, struct sockaddr_in *sin)
{
	if (!to)
		return 0;
	if (tolen < sizeof(*sin))
		return -EINVAL;
	memcpy(sin, to, sizeof(*sin));
	return 1;
}

/* ---- read, readv, recv, recvfrom, recvmsg, recvmmsg ---- */

static ssize_t shim_read(int fd, void *buf, size_t n)
{
	struct ssock *ss = ss_enter(fd, SS_ENTER_BYPASSED);
	if (ss) {
		struct iovec v = {buf, n};
		ssize_t r = io_recv(ss, fd, &v, 1, 0, NULL);
		ss_release(ss);
		if (r != IO_KERNEL)
			return shim_ret(r);
	}
	return REAL(read)(fd, buf, n);
}

SHIM_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	return shim_read(fd, buf, n);
}

SHIM_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (n > buflen)
		__chk_fail();
	return shim_read(fd, buf, n);
}

SHIM_EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	struct ssock *ss = ss_enter(fd, SS_ENTER_BYPASSED);
	if (ss) {
		ssize_t r = io_recv(ss, fd, iov, iovcnt, 0, NULL);
		ss_release(ss);
		if (r != IO_KERNEL)
			return shim_ret(r);
	}
	return REAL(readv)(fd, iov, iovcnt);
}

static ssize_t shim_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *from, socklen_t *fromlen)
{
	struct ssock *ss = ss_enter(fd, SS_ENTER_BYPASSED);
	if (ss) {
		struct iovec v = {buf, n};
		union ss_addr sin; /* an address of the socket's family */
		ssize_t r = io_recv(ss, fd, &v, 1, flags, from ? &sin : NULL);
		int stream = ss->type == SOCK_STREAM;
		ss_release(ss);
		if (r != IO_KERNEL) {
			if (r >= 0 && from && fromlen) {
				if (stream) {
					*fromlen = 0; /* as Linux: no address on a stream */
				} else {
					socklen_t n = ss_addr_len(&sin);
					memcpy(from, &sin, *fromlen < n ? *fromlen : n);
					*fromlen = n;
				}
			}
			return shim_ret(r);
		}
	}
	return REAL(recvfrom)(fd, buf, n, flags, from, fromlen);
}

SHIM_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	return shim_recvfrom(fd, buf, n, flags, NULL, NULL);
}

SHIM_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *from, socklen_t *fromlen)
{
	return shim_recvfrom(fd, buf, n, flags, from, fromlen);
}

SHIM_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	if (n > buflen)
		__chk_fail();
	return shim_recvfrom(fd, buf, n, flags, NULL, NULL);
}

SHIM_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
				   struct sockaddr *from, socklen_t *fromlen)
{
	if (n > buflen)
		__chk_fail();
	return shim_recvfrom(fd, buf, n, flags, from, fromlen);
}

static ssize_t msg_recv(struct ssock *ss, int fd, struct msghdr *msg, int flags)
{
	union ss_addr sin;
	ssize_t r;

	if (!msg)
		return -EFAULT;
	r = io_recv(ss, fd, msg->msg_iov, (int)msg->msg_iovlen, flags, msg->msg_name ? &sin : NULL);
	if (r < 0)
		return r;
	if (msg->msg_name) {
		if (ss->type == SOCK_STREAM) {
			msg->msg_namelen = 0;
		} else {
			socklen_t n = ss_addr_len(&sin);
			memcpy(msg->msg_name, &sin, msg->msg_namelen < n ? msg->msg_namelen : n);
			msg->msg_namelen = n;
		}
	}
	msg->msg_controllen = 0;
	msg->msg_flags = 0;
	if ((flags & MSG_TRUNC) && ss->type == SOCK_DGRAM && (size_t)r > iov_total(msg->msg_iov, (int)msg->msg_iovlen))
		msg->msg_flags |= MSG_TRUNC;
	return r;
}

SHIM_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct ssock *ss = ss_enter(fd, SS_ENTER_BYPASSED);
	if (ss) {
		ssize_t r = msg_recv(ss, fd, msg, flags);
		ss_release(ss);
		if (r != IO_KERNEL)
			return shim_ret(r);
	}
	return REAL(recvmsg)(fd, msg, flags);
}

SHIM_EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags, struct timespec *tmo)
{
	struct ssock *ss = ss_enter(fd, SS_ENTER_BYPASSED);
	if (ss) {
		unsigned i;
		ssize_t r = 0;
		if (!vec) {
			ss_release(ss);
			return (int)shim_ret(-EFAULT);
		}
		for (i = 0; i < vlen && i < 1024; i++) {
			r = msg_recv(ss, fd, &vec[i].msg_hdr, flags);
			if (r < 0)
				break;
			vec[i].msg_len = (unsigned)r;
			if (flags & MSG_WAITFORONE)
				flags |= MSG_DONTWAIT;
		}
		ss_release(ss);
		if (r == IO_KERNEL)
			return REAL(recvmmsg)(fd, vec, vlen, flags, tmo);
		return i ? (int)i : (int)shim_ret(r);
	}
	return REAL(recvmmsg)(fd, vec, vlen, flags, tmo);
}

/* ---- write, writev, send, sendto, sendmsg, sendmmsg ---- */

SHIM_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	struct ssock *ss = ss_enter(fd, SS_ENTER_BYPASSED);
	if (ss) {
		struct iovec v = {(void *)buf, n};
		ssize_t r = io_send(ss, fd, &v, 1, 0, NULL);
		ss_release(ss);
		if (r != IO_KERNEL)
			return shim_ret(r);
	}
	return REAL(write)(fd, buf, n);
}

SHIM_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	struct ssock *ss = ss_enter(fd, SS_ENTER_BYPASSED);
	if (ss) {
		ssize_t r = io_send(ss, fd, iov, iovcnt, 0, NULL);
		ss_release(ss);
		if (r != IO_KERNEL)
			return shim_ret(r);
	}
	return REAL(writev)(fd, iov, iovcnt);
}

static ssize_t shim_sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *to, socklen_t tolen)
{
	struct ssock *ss = ss_enter_dest(fd, to, tolen);
	if (ss) {
		struct iovec v = {(void *)buf, n};
		struct sockaddr_in sin;
		int has = ss->type == SOCK_DGRAM ? sin_from(to, tolen, &sin) : 0;
		ssize_t r = has < 0 ? has : io_send(ss, fd, &v, 1, flags, has ? &sin : NULL);
		ss_release(ss);
		if (r != IO_KERNEL)
			return shim_ret(r);
	}
	return REAL(sendto)(fd, buf, n, flags, to, tolen);
}

SHIM_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	return shim_sendto(fd, buf, n, flags, NULL, 0);
}

SHIM_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *to, socklen_t tolen)
{
	return shim_sendto(fd, buf, n, flags, to, tolen);
}

static ssize_t msg_send(struct ssock *ss, int fd, const struct msghdr *msg, int flags)
{
	struct sockaddr_in sin;
	int has;

	if (!msg)
		return -EFAULT;
	has = ss->type == SOCK_DGRAM ? sin_from(msg->msg_name, msg->msg_namelen, &sin) : 0;
	if (has < 0)
		return has;
	return io_send(ss, fd, msg->msg_iov, (int)msg->msg_iovlen, flags, has ? &sin : NULL);
}

SHIM_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct ssock *ss = ss_enter_dest(fd, msg ? msg->msg_name : NULL, msg ? msg->msg_namelen : 0);
	if (ss) {
		ssize_t r = msg_send(ss, fd, msg, flags);
		ss_release(ss);
		if (r != IO_KERNEL)
			return shim_ret(r);
	}
	return REAL(sendmsg)(fd, msg, flags);
}

SHIM_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
	struct ssock *ss =
		vec && vlen ? ss_enter_dest(fd, vec[0].msg_hdr.msg_name, vec[0].msg_hdr.msg_namelen) : NULL;
	if (ss) {
		unsigned i;
		ssize_t r = 0;
		for (i = 0; i < vlen && i < 1024; i++) {
			r = msg_send(ss, fd, &vec[i].msg_hdr, flags);
			if (r < 0)
				break;
			vec[i].msg_len = (unsigned)r;
		}
		ss_release(ss);
		if (r == IO_KERNEL)
			return REAL(sendmmsg)(fd, vec, vlen, flags);
		return i ? (int)i : (int)shim_ret(r);
	}
	return REAL(sendmmsg)(fd, vec, vlen, flags);
}

/* ---- sendfile: file -> bypassed socket ---- */

#define SF_CHUNK (64 * 1024)
static __thread char *sf_buf;

/* pread a chunk and queue what the stack takes; the file offset advances by
 * what was queued, as Linux's sendfile does. */
static ssize_t sf_send(struct ssock *ss, int out_fd, int in_fd, off_t *offset, size_t count)
{
	off_t pos;
	size_t done = 0;
	int polled = 0;
	uint64_t deadline = 0;
	ssize_t r;

	if ((r = io_ready(ss, out_fd)))
		return r;
	if (!sf_buf && !(sf_buf = malloc(SF_CHUNK)))
		return -ENOMEM;
	if (offset) {
		if (*offset < 0)
			return -EINVAL;
		pos = *offset;
	} else if ((pos = lseek(in_fd, 0, SEEK_CUR)) < 0) {
		return -errno;
	}
	while (done < count) {
		size_t want = count - done < SF_CHUNK ? count - done : SF_CHUNK;
		ssize_t n = pread(in_fd, sf_buf, want, pos);
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break; /* end of file */
		struct iovec v = {sf_buf, (size_t)n};
		rt_lock(ss->st);
		r = sock_send(ss->sk, &v, 1, 0, NULL);
		rt_unlock(ss->st);
		if (r > 0) {
			done += (size_t)r;
			pos += r;
			continue;
		}
		if (r == -EAGAIN && !done) {
			if (ss->nonblock) {
				if (polled++)
					break;
				rt_poll(ss->st);
				continue;
			}
			if (!deadline)
				deadline = ss_deadline(&ss->sndtimeo);
			int w = ss_wait(ss, EPOLLOUT, deadline, -1);
			if (w < 0) {
				r = w;
				break;
			}
			continue;
		}
		if (r == -EPIPE && !done)
			ss_sigpipe();
		break;
	}
	if (offset)
		*offset = pos;
	else if (done)
		lseek(in_fd, pos, SEEK_SET);
	return done ? (ssize_t)done : (r < 0 ? r : 0);
}

SHIM_EXPORT ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
{
	struct ssock *ss = ss_enter(out_fd, SS_ENTER_BYPASSED);
	if (ss) {
		ssize_t r = sf_send(ss, out_fd, in_fd, offset, count);
		ss_release(ss);
		if (r != IO_KERNEL)
			return shim_ret(r);
	}
	return REAL(sendfile)(out_fd, in_fd, offset, count);
}

SHIM_EXPORT ssize_t sendfile64(int out_fd, int in_fd, off64_t *offset, size_t count)
{
	struct ssock *ss = ss_enter(out_fd, SS_ENTER_BYPASSED);
	if (ss) {
		ssize_t r = sf_send(ss, out_fd, in_fd, (off_t *)offset, count);
		ss_release(ss);
		if (r != IO_KERNEL)
			return shim_ret(r);
	}
	return REAL(sendfile64)(out_fd, in_fd, offset, count);
}
