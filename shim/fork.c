/* fork and exec. A child forgets the parent's stack (its DPDK threads did not
 * survive) and keeps every bypassed description: a listener made before fork
 * (nginx's master) is replayed into the child's own stack on first use; a
 * connection of the parent's started stack stays there and reaches the child
 * through the parent's relay (relay.c). exec keeps LD_PRELOAD and
 * DEMI_CONFIG when the program dropped them from the environment it passes
 * on. */
#include <alloca.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"
#include "demi/shm.h"

static char *saved_env[2]; /* "LD_PRELOAD=...", "DEMI_CONFIG=..." */

static int fork_started; /* the stack was up in the process that forked */

static void fork_prepare(void)
{
	pthread_mutex_lock(&shim_mu);
	fork_started = cfg.active && shim_has_bypass && !shim_rt_failed && rt_started();
	relay_prepare();
}

static void fork_parent(void)
{
	relay_parent();
	pthread_mutex_unlock(&shim_mu);
}

static void child_fix(int fd, struct fobj *o, void *arg)
{
	struct ssock *ss = ss_of(o);
	int parent_started = *(int *)arg;
	if (o->kind == FOBJ_EPOLL) {
		ep_fork_child(o);
		return;
	}
	if (!ss || ss->state != SS_BYPASS || (!ss->sk && !(ss->listening && parent_started)))
		return;
	ss->sk = NULL;
	ss->st = NULL;
	if (ss->listening) {
		/* its connections arrive at the parent's stack, and this process
		 * cannot start one on the parent's device: accept fails (and says
		 * why at the default level, ss_attach_locked) rather than wait on a
		 * kernel listener that nothing reaches */
		ss->dead = -EOPNOTSUPP;
		ss->why = WHY_FORKED;
	} else {
		ss->dead = -ENOTCONN;
		ss->why = WHY_FORKED;
		log_warn("fd %d: a %s socket of the parent's stack cannot follow into this process: "
			 "its calls fail with ENOTCONN", fd, ss->type == SOCK_STREAM ? "TCP" : "UDP");
	}
}

static void fork_child(void)
{
	pthread_mutex_init(&shim_mu, NULL);
	fdtab_atfork_child();
	sig_atfork_child();
	relay_child();
	if (!cfg.active)
		return;
	rt_atfork_child();
	shim_rt_failed = 0;
	fdtab_foreach(child_fix, &fork_started);
	relay_child_epoll();
	fdrec_atfork_child();
}

void fork_init(void)
{
	const char *names[2] = {"LD_PRELOAD", "DEMI_CONFIG"};
	for (int i = 0; i < 2; i++) {
		const char *v = getenv(names[i]);
		if (v && *v) {
			size_t n = strlen(names[i]) + strlen(v) + 2;
			if ((saved_env[i] = malloc(n)))
				snprintf(saved_env[i], n, "%s=%s", names[i], v);
		}
	}
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static int env_has(char *const envp[], const char *kv)
{
	size_t n = (size_t)(strchr(kv, '=') - kv) + 1;
	for (; envp && *envp; envp++)
		if (!strncmp(*envp, kv, n))
			return 1;
	return 0;
}

/* envp, or a copy with the saved variables added (*alloc set to free). */
static char *const *env_fix(char *const envp[], char ***alloc)
{
	int add = 0, n = 0;

	*alloc = NULL;
	for (int i = 0; i < 2; i++)
		add += saved_env[i] && !env_has(envp, saved_env[i]);
	if (!add)
		return envp;
	while (envp && envp[n])
		n++;
	char **e = malloc(sizeof(*e) * (size_t)(n + add + 1));
	if (!e)
		return envp;
	memcpy(e, envp, sizeof(*e) * (size_t)n);
	for (int i = 0; i < 2; i++)
		if (saved_env[i] && !env_has(envp, saved_env[i]))
			e[n++] = saved_env[i];
	e[n] = NULL;
	*alloc = e;
	return e;
}

/* What exec does to the sockets the new program inherits (not
 * close-on-exec): a connection relayed from the parent's stack goes on (it
 * is a kernel socket), its addresses there are the relay's; a bypassed
 * socket of this process's own stack cannot follow (the stack ends with
 * the program): the new program finds a socket at its end of file. Each is
 * said at the default level. */
static void exec_one(int fd, struct fobj *o, void *arg)
{
	struct ssock *ss = ss_of(o);
	int fl, sv[2];
	(void)arg;

	if (!ss || (fl = REAL(fcntl)(fd, F_GETFD)) < 0 || (fl & FD_CLOEXEC))
		return;
	if (ss->why == WHY_RELAYED) {
		log_warn("fd %d: a connection relayed through the stack of the process that forked this one "
			 "follows exec; getsockname and getpeername there show the relay's local socket", fd);
		return;
	}
	if (ss->state != SS_BYPASS || ss->listening || !ss->sk || ss->dead)
		return;
	log_warn("fd %d: a connection of this process's stack cannot follow exec: the new program reads "
		 "its end and cannot write to it", fd);
	/* a pair whose other end is closed: EOF to read, EPIPE to write */
	if (REAL(socketpair)(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
		REAL(dup3)(sv[0], fd, 0);
		REAL(close)(sv[0]);
		REAL(close)(sv[1]);
	}
}

static void exec_check(void)
{
	if (SHIM_INSIDE() || !cfg.active)
		return;
	pthread_mutex_lock(&shim_mu);
	fdtab_foreach(exec_one, NULL);
	pthread_mutex_unlock(&shim_mu);
}

SHIM_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	char **alloc;
	char *const *e = env_fix(envp, &alloc);
	exec_check();
	int r = REAL(execve)(path, argv, e);
	free(alloc);
	return r;
}

SHIM_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	char **alloc;
	char *const *e = env_fix(envp, &alloc);
	exec_check();
	int r = REAL(execvpe)(file, argv, e);
	free(alloc);
	return r;
}

SHIM_EXPORT int execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

SHIM_EXPORT int execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

/* glibc declares arg nonnull, but execl(path, NULL) is seen in the wild. */
#pragma GCC diagnostic ignored "-Wnonnull-compare"

/* execl family: collect the arguments (and envp for execle) from the list. */
#define ARGV_FROM_LIST(arg, ap, argv)                                       \
	do {                                                                    \
		size_t n_ = 0;                                                      \
		if (arg) {                                                          \
			va_list cp_;                                                    \
			va_copy(cp_, ap);                                               \
			for (n_ = 1; va_arg(cp_, const char *); n_++)                   \
				;                                                           \
			va_end(cp_);                                                    \
		}                                                                   \
		argv = alloca((n_ + 1) * sizeof(char *));                           \
		argv[0] = (char *)(arg);                                            \
		for (size_t i_ = 1; i_ < n_; i_++)                                  \
			argv[i_] = va_arg(ap, char *);                                  \
		argv[n_] = NULL;                                                    \
		if (arg)                                                            \
			(void)va_arg(ap, char *); /* the terminating NULL */            \
	} while (0)

SHIM_EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;
	char **argv;
	va_start(ap, arg);
	ARGV_FROM_LIST(arg, ap, argv);
	va_end(ap);
	return execve(path, argv, environ);
}

SHIM_EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	char **argv;
	va_start(ap, arg);
	ARGV_FROM_LIST(arg, ap, argv);
	va_end(ap);
	return execvpe(file, argv, environ);
}

SHIM_EXPORT int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	char **argv, **envp;
	va_start(ap, arg);
	ARGV_FROM_LIST(arg, ap, argv);
	envp = va_arg(ap, char **);
	va_end(ap);
	return execve(path, argv, envp);
}

/* ---- leaving without exit(): as forked children, multiprocessing workers
 * and daemons do. The kernel still delivers what such a process wrote; so
 * does the stack (shim_exit_drain: nothing unless this process started it,
 * which a vfork or forked child never did on its parent's behalf). */

SHIM_EXPORT void _exit(int status)
{
	shim_exit_drain();
	REAL(_exit)(status);
	__builtin_unreachable();
}

SHIM_EXPORT void _Exit(int status)
{
	shim_exit_drain();
	REAL(_Exit)(status);
	__builtin_unreachable();
}

/* ---- the runtime's fds and exec ---- */

/* What the runtime opens while it starts (DPDK's tap queues, memfd, epoll,
 * timerfd, pipes, its sockets) is not the program's: a program it execs
 * must not inherit it (a child holding a tap open would keep the device
 * alive after this process ends, and the device could not be reclaimed).
 * fds open after the start that were not before are made close-on-exec. */
struct fd_snap *fdsnap_take(void)
{
	struct fd_snap *s = calloc(1, sizeof(*s));
	DIR *d;
	struct dirent *e;

	if (!s || !(d = opendir("/proc/self/fd"))) {
		free(s);
		return NULL;
	}
	while ((e = readdir(d))) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (*end || fd < 0 || fd >= FDSNAP_MAX || fd == dirfd(d))
			continue;
		s->bits[fd / 64] |= 1ull << (fd % 64);
	}
	closedir(d);
	return s;
}

void fdsnap_cloexec_new(struct fd_snap *before)
{
	struct fd_snap *now;

	if (!before)
		return;
	if ((now = fdsnap_take())) {
		for (int i = 0; i < FDSNAP_MAX / 64; i++) {
			uint64_t fresh = now->bits[i] & ~before->bits[i];
			for (int b = 0; fresh; b++, fresh >>= 1) {
				int fd = i * 64 + b, fl;
				if (!(fresh & 1))
					continue;
				fl = REAL(fcntl)(fd, F_GETFD);
				if (fl >= 0 && !(fl & FD_CLOEXEC))
					REAL(fcntl)(fd, F_SETFD, fl | FD_CLOEXEC);
			}
		}
		free(now);
	}
	free(before);
}

/* ---- privilege drops ---- */

/* nginx's worker binds nothing itself: it inherits the master's bypassed
 * listeners, then drops root (setgid, setuid) before its first wait. Its
 * stack starts there, while it may still open the device. */
static void priv_drop_start(void)
{
	if (SHIM_INSIDE() || !cfg.active || !shim_has_bypass || shim_rt_failed || rt_started() || geteuid() != 0)
		return;
	if (shim_stack())
		log_debug("stack started before the program drops privileges");
}

/* The counters files are made by the stack as root (mode 0600); a process
 * then running as another user could not remove them at exit, /dev/shm
 * being sticky (nginx's worker left /dev/shm/demi.PID.0 behind at every
 * `nginx -s quit`). They, and the fd record, follow the new effective user. */
static void priv_drop_chown(uid_t uid)
{
	char path[96];

	if (SHIM_INSIDE() || uid == (uid_t)-1 || geteuid() != 0)
		return;
	snprintf(path, sizeof(path), DEMI_SHM_DIR "/" DEMI_SHM_PREFIX "%d." DEMI_FDS_SUFFIX, (int)getpid());
	if (chown(path, uid, (gid_t)-1) != 0 && errno != ENOENT)
		log_debug("%s: chown: %s", path, strerror(errno));
	if (!rt_started())
		return;
	for (unsigned i = 0; i < 64; i++) {
		snprintf(path, sizeof(path), DEMI_SHM_DIR "/" DEMI_SHM_PREFIX "%d.%u", (int)getpid(), i);
		if (chown(path, uid, (gid_t)-1) != 0 && errno == ENOENT)
			break;
	}
}

/* Before a call that may drop privileges: new_euid is the effective user
 * it sets, (uid_t)-1 if none. */
static void priv_drop(uid_t new_euid)
{
	priv_drop_start();
	priv_drop_chown(new_euid);
}

SHIM_EXPORT int setuid(uid_t uid)
{
	priv_drop(uid);
	return REAL(setuid)(uid);
}

SHIM_EXPORT int setgid(gid_t gid)
{
	priv_drop((uid_t)-1);
	return REAL(setgid)(gid);
}

SHIM_EXPORT int seteuid(uid_t uid)
{
	priv_drop(uid);
	return REAL(seteuid)(uid);
}

SHIM_EXPORT int setegid(gid_t gid)
{
	priv_drop((uid_t)-1);
	return REAL(setegid)(gid);
}

SHIM_EXPORT int setreuid(uid_t r, uid_t e)
{
	priv_drop(e);
	return REAL(setreuid)(r, e);
}

SHIM_EXPORT int setregid(gid_t r, gid_t e)
{
	priv_drop((uid_t)-1);
	return REAL(setregid)(r, e);
}

SHIM_EXPORT int setresuid(uid_t r, uid_t e, uid_t s)
{
	priv_drop(e);
	return REAL(setresuid)(r, e, s);
}

SHIM_EXPORT int setresgid(gid_t r, gid_t e, gid_t s)
{
	priv_drop((uid_t)-1);
	return REAL(setresgid)(r, e, s);
}
