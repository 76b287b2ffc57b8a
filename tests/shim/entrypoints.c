/* The interposed entry points that programs reach without naming them
 * (tests/shim/entrypoints_tap.sh): the fortified variants _FORTIFY_SOURCE
 * substitutes (__read_chk, __recv_chk, __recvfrom_chk, __poll_chk,
 * __ppoll_chk), the 64-bit ones of _FILE_OFFSET_BITS=64 (sendfile64,
 * fcntl64), closefrom, and the exec calls of the execl family and execvpe.
 * Each is called by name here, whatever the build's fortify level, on a
 * connection to an echo peer (tests/shim/peer.py echo-multi).
 *
 *   entrypoints ADDR PORT
 *       the calls, one observation per line
 *   entrypoints helper WANT
 *       what the exec calls run: says whether LD_PRELOAD is WANT ("-":
 *       unset), the value the parent had before it dropped it from the
 *       environment it passed on; LD_PRELOAD itself goes to stderr */
#undef _FORTIFY_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <sys/wait.h>
#include <time.h>

#include "t.h"

extern ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
extern ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
extern ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
			      struct sockaddr *from, socklen_t *fromlen);
extern int __poll_chk(struct pollfd *fds, nfds_t nfds, int timeout, size_t fdslen);
extern int __ppoll_chk(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo,
		       const sigset_t *sigmask, size_t fdslen);

static char self[PATH_MAX], selfdir[PATH_MAX];
static const char *want;

static void say_buf(const char *name, const char *buf, long n)
{
	SAY("%s bytes = %.*s", name, n > 0 ? (int)n : 0, buf);
}

/* fork; the child drops LD_PRELOAD from its environment and runs the helper
 * by CALL; the helper's status is the observation */
static void exec_one(const char *call)
{
	char *envp[] = {"DEMI_T_HELPER=1", NULL};
	char *argv[] = {"entrypoints", "helper", (char *)want, NULL};
	int st;
	pid_t p;

	fflush(stdout);
	p = fork();
	if (p < 0)
		DIE("fork");
	if (p == 0) {
		unsetenv("LD_PRELOAD");
		setenv("PATH", selfdir, 1);
		if (!strcmp(call, "execl"))
			execl(self, "entrypoints", "helper", want, (char *)NULL);
		else if (!strcmp(call, "execlp"))
			execlp("entrypoints", "entrypoints", "helper", want, (char *)NULL);
		else if (!strcmp(call, "execle"))
			execle(self, "entrypoints", "helper", want, (char *)NULL, envp);
		else
			execvpe("entrypoints", argv, envp);
		_exit(99);
	}
	if (waitpid(p, &st, 0) != p)
		DIE("waitpid");
	SAY("%s: helper exit = %d", call, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static int helper(const char *w)
{
	const char *lp = getenv("LD_PRELOAD");
	int same = lp ? !strcmp(lp, w) : !strcmp(w, "-");
	fprintf(stderr, "helper: LD_PRELOAD=%s\n", lp ? lp : "(unset)");
	SAY("helper: LD_PRELOAD as the parent had it = %s", same ? "yes" : "no");
	return same ? 0 : 1;
}

int main(int argc, char **argv)
{
	char buf[4096], file[1000];
	struct sockaddr_in from;
	socklen_t fl;
	struct pollfd pfd;
	struct timespec tmo = {5, 0};
	sigset_t none;
	off64_t off;
	int c, c2, q, tf, flags;
	ssize_t n;

	if (argc == 3 && !strcmp(argv[1], "helper"))
		return helper(argv[2]);
	if (argc != 3)
		DIE("usage: entrypoints ADDR PORT");
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		DIE("readlink");
	self[n] = 0;
	strcpy(selfdir, self);
	*strrchr(selfdir, '/') = 0;
	want = getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "-";

	c = t_connect_addr(argv[1], atoi(argv[2]));
	T("write", write(c, "abcdef", 6));
	pfd = (struct pollfd){.fd = c, .events = POLLIN};
	T("__poll_chk", __poll_chk(&pfd, 1, 5000, sizeof(pfd)));
	SAY("__poll_chk revents = %#x", pfd.revents);
	T("__read_chk", n = __read_chk(c, buf, 3, sizeof(buf)));
	say_buf("__read_chk", buf, n);
	T("__recv_chk", n = __recv_chk(c, buf, 3, sizeof(buf), MSG_WAITALL));
	say_buf("__recv_chk", buf, n);

	T("write", write(c, "xyz", 3));
	sigemptyset(&none);
	pfd.revents = 0;
	T("__ppoll_chk", __ppoll_chk(&pfd, 1, &tmo, &none, sizeof(pfd)));
	SAY("__ppoll_chk revents = %#x", pfd.revents);
	fl = sizeof(from);
	T("__recvfrom_chk", n = __recvfrom_chk(c, buf, 3, sizeof(buf), MSG_WAITALL, (struct sockaddr *)&from, &fl));
	say_buf("__recvfrom_chk", buf, n);
	SAY("__recvfrom_chk fromlen = %u", (unsigned)fl);
	pfd.revents = 0;
	T("__poll_chk nothing left", __poll_chk(&pfd, 1, 0, sizeof(pfd)));

	T("fcntl64 F_GETFL nonblock", (flags = fcntl64(c, F_GETFL)) < 0 ? flags : !!(flags & O_NONBLOCK));
	T("fcntl64 F_SETFL", fcntl64(c, F_SETFL, flags | O_NONBLOCK));
	T("fcntl64 F_GETFL nonblock", !!(fcntl64(c, F_GETFL) & O_NONBLOCK));
	T("__recv_chk nonblocking", __recv_chk(c, buf, 3, sizeof(buf), 0));
	T("__read_chk nonblocking", __read_chk(c, buf, 3, sizeof(buf)));
	T("__recvfrom_chk nonblocking", __recvfrom_chk(c, buf, 3, sizeof(buf), 0, NULL, NULL));
	T("fcntl64 F_SETFL", fcntl64(c, F_SETFL, flags));
	T("fcntl64 F_GETFD", fcntl64(c, F_GETFD));
	T("fcntl64 F_SETFD", fcntl64(c, F_SETFD, FD_CLOEXEC));
	T("fcntl64 F_GETFD", fcntl64(c, F_GETFD));
	T("fcntl64 F_SETFD", fcntl64(c, F_SETFD, 0));

	/* sendfile64 from a file, at an offset: the echo comes back intact */
	snprintf(buf, sizeof(buf), "/tmp/demi-entry.%d", (int)getpid());
	tf = open(buf, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (tf < 0)
		DIE("open %s", buf);
	unlink(buf);
	for (size_t i = 0; i < sizeof(file); i++)
		file[i] = (char)('a' + i % 26);
	if (write(tf, file, sizeof(file)) != (ssize_t)sizeof(file))
		DIE("write file");
	off = 100;
	T("sendfile64", sendfile64(c, tf, &off, 500));
	SAY("sendfile64 offset = %ld", (long)off);
	T("__recv_chk sendfile64 echo", n = __recv_chk(c, buf, 500, sizeof(buf), MSG_WAITALL));
	SAY("sendfile64 echo intact = %d", n == 500 && !memcmp(buf, file + 100, 500));

	for (unsigned i = 0; i < 4; i++)
		exec_one((const char *[]){"execl", "execlp", "execle", "execvpe"}[i]);

	/* closefrom: the file and a second connection, both opened after the
	 * first connection (and after the stack's own fds: a closefrom below
	 * those would close the device too); the first must survive it */
	c2 = t_connect_addr(argv[1], atoi(argv[2]));
	T("second connection and file above the first", c2 > c && tf > c);
	T("write c2", write(c2, "pq", 2));
	T("__recv_chk c2", n = __recv_chk(c2, buf, 2, sizeof(buf), MSG_WAITALL));
	closefrom(tf < c2 ? tf : c2);
	T("fcntl64 F_GETFD c2 after closefrom", fcntl64(c2, F_GETFD));
	T("fcntl64 F_GETFD file after closefrom", fcntl64(tf, F_GETFD));
	T("__read_chk c2 after closefrom", __read_chk(c2, buf, 1, sizeof(buf)));
	T("__recv_chk c2 after closefrom", __recv_chk(c2, buf, 1, sizeof(buf), 0));
	T("fcntl64 F_GETFD first after closefrom", fcntl64(c, F_GETFD));
	T("write first after closefrom", write(c, "st", 2));
	T("__read_chk first after closefrom", n = __recv_chk(c, buf, 2, sizeof(buf), MSG_WAITALL));
	say_buf("first after closefrom", buf, n);
	T("close first", close(c));

	q = t_connect_addr(argv[1], atoi(argv[2]));
	T("write QUIT", write(q, "QUIT", 4));
	close(q);
	return 0;
}
