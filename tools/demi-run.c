/* demi-run: run a program with libdemi preloaded, as `onload` wraps one.
 *
 *   demi-run [-c FILE] [-v] [--] PROGRAM [ARGS...]
 *   demi-run --prepare IF
 *
 * Finds libdemi.so next to this binary (build/) or in ../lib (an installed
 * PREFIX/bin/demi-run), puts its absolute path first in LD_PRELOAD, sets
 * DEMI_CONFIG to the absolute path of FILE, DEMI_LOG=debug with -v, and
 * execs PROGRAM. Exit status as a shell's: 127 when PROGRAM is not found,
 * 126 when it cannot be executed; 1 for our own errors, 2 for bad usage.
 *
 * --prepare IF (as root, in IF's network namespace) is the administrator's
 * side of a shared NIC (device xdp:IF) for processes that are not root: it
 * makes the lock files of IF and of each of its queues (stack/netif/xdp/
 * share.c), which any user may then lock, and says which capabilities such
 * a process needs. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netif/xdp/share.h"

#define LIB_NAME "libdemi.so"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: demi-run [-c FILE] [-v] [--] PROGRAM [ARGS...]\n"
		"       demi-run --prepare IF\n"
		"Run PROGRAM with its sockets on libdemi's stack (LD_PRELOAD=" LIB_NAME ").\n"
		"  --prepare IF  as root: let processes of any user share IF (device xdp:IF)\n"
		"  -c FILE    configuration file (sets DEMI_CONFIG)\n"
		"  -v         debug logging (sets DEMI_LOG=debug)\n"
		"  -h, --help this text\n");
}

/* The directory this binary is in, from /proc/self/exe. */
static int self_dir(char *dir, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", dir, size - 1);
	char *slash;
	if (n <= 0)
		return -1;
	dir[n] = '\0';
	if (!(slash = strrchr(dir, '/')))
		return -1;
	*slash = '\0';
	return 0;
}

/* The absolute path of libdemi.so next to us or in ../lib; NULL if neither. */
static const char *find_lib(char *out, char *tried, size_t tried_size)
{
	char dir[PATH_MAX], cand[PATH_MAX + 32];
	const char *rel[] = { "/" LIB_NAME, "/../lib/" LIB_NAME };

	tried[0] = '\0';
	if (self_dir(dir, sizeof(dir)) != 0) {
		snprintf(tried, tried_size, "(cannot read /proc/self/exe: %s)", strerror(errno));
		return NULL;
	}
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(cand, sizeof(cand), "%s%s", dir, rel[i]);
		if (realpath(cand, out) && access(out, R_OK) == 0)
			return out;
		snprintf(tried + strlen(tried), tried_size - strlen(tried), "%s%s", i ? " or " : "", cand);
	}
	return NULL;
}

static int set_preload(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	char *v;
	int rc;

	if (!old || !*old)
		return setenv("LD_PRELOAD", lib, 1);
	/* already first (a demi-run under demi-run): leave it */
	size_t n = strlen(lib);
	if (!strncmp(old, lib, n) && (old[n] == '\0' || old[n] == ':' || old[n] == ' '))
		return 0;
	if (asprintf(&v, "%s:%s", lib, old) < 0)
		return -1;
	rc = setenv("LD_PRELOAD", v, 1);
	free(v);
	return rc;
}

static int set_config(const char *file)
{
	char abs[PATH_MAX];
	struct stat sb;

	if (!realpath(file, abs) || access(abs, R_OK) != 0) {
		fprintf(stderr, "demi-run: %s: cannot read configuration: %s\n", file, strerror(errno));
		return -1;
	}
	if (stat(abs, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		fprintf(stderr, "demi-run: %s: configuration is not a regular file\n", file);
		return -1;
	}
	return setenv("DEMI_CONFIG", abs, 1);
}

/* The lock files of a shared interface, mode 0644 whatever the umask. */
static int prepare(const char *iface)
{
	char path[128];
	int nq;

	if (!if_nametoindex(iface)) {
		fprintf(stderr, "demi-run: --prepare %s: no such interface (in this network namespace)\n", iface);
		return 1;
	}
	if (mkdir(XDP_LOCK_DIR, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "demi-run: --prepare %s: cannot make %s: %s\n", iface, XDP_LOCK_DIR, strerror(errno));
		return 1;
	}
	nq = xdp_queue_count(iface);
	for (int q = -1; q < nq; q++) {
		int fd;
		xdp_lock_path(path, sizeof(path), iface, q);
		if ((fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0644)) < 0 || fchmod(fd, 0644) != 0) {
			fprintf(stderr, "demi-run: --prepare %s: %s: %s\n", iface, path, strerror(errno));
			if (fd >= 0)
				close(fd);
			return 1;
		}
		close(fd);
	}
	printf("%s: prepared for device xdp:%s, %d queue%s (lock files in %s). A process that is not root\n"
	       "needs CAP_NET_RAW, CAP_NET_ADMIN, CAP_SYS_ADMIN and CAP_IPC_LOCK (e.g. systemd\n"
	       "AmbientCapabilities=, setpriv --ambient-caps); one queue per process.\n",
	       iface, iface, nq, nq == 1 ? "" : "s", XDP_LOCK_DIR);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "prepare", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL;
	char lib[PATH_MAX], tried[2 * PATH_MAX + 64];
	int verbose = 0, c;

	/* '+': options end at PROGRAM, so PROGRAM's own options stay its own */
	while ((c = getopt_long(argc, argv, "+c:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'P':
			return prepare(optarg);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "demi-run: no program given\n");
		usage(stderr);
		return 2;
	}
	if (config && set_config(config) != 0)
		return 1;
	if (!find_lib(lib, tried, sizeof(tried))) {
		fprintf(stderr, "demi-run: " LIB_NAME " not found at %s\n", tried);
		return 1;
	}
	if (set_preload(lib) != 0 || (verbose && setenv("DEMI_LOG", "debug", 1) != 0)) {
		fprintf(stderr, "demi-run: cannot set the environment: %s\n", strerror(errno));
		return 1;
	}
	execvp(argv[optind], &argv[optind]);
	/* as a shell reports it */
	int err = errno;
	if (err == ENOENT && !strchr(argv[optind], '/')) {
		fprintf(stderr, "demi-run: %s: command not found\n", argv[optind]);
		return 127;
	}
	fprintf(stderr, "demi-run: %s: %s\n", argv[optind], strerror(err));
	return err == ENOENT ? 127 : 126;
}
