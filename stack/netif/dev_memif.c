/* memif:SOCK,role=server|client[,KEY=VALUE...]: DPDK's net_memif over the
 * socket file SOCK, shared memory with another DPDK process; further
 * devargs are passed through. The server starts first: a server reclaims
 * the socket file a dead server left, a client waits for the file, retries
 * its start until the server accepts, then waits for the link. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dpdk.h"

static int memif_parse(struct dev *d, const char *arg, char *why, size_t whylen)
{
	char tmp[512];
	char *save = NULL, *tok, *path;
	int role = -1;

	if (snprintf(tmp, sizeof(tmp), "%s", arg) >= (int)sizeof(tmp))
		return dev_why(why, whylen, "too long");
	path = strtok_r(tmp, ",", &save);
	if (!path || !*path || strchr(path, '='))
		return dev_why(why, whylen, "memif needs a socket path: memif:/run/x.sock,role=server");
	if (snprintf(d->path, sizeof(d->path), "%s", path) >= (int)sizeof(d->path))
		return dev_why(why, whylen, "socket path too long");
	while ((tok = strtok_r(NULL, ",", &save))) {
		if (!strcmp(tok, "role=server"))
			role = 1;
		else if (!strcmp(tok, "role=client"))
			role = 0;
		else if (!strncmp(tok, "role=", 5))
			return dev_why(why, whylen, "role must be server or client");
		else if (!strncmp(tok, "socket", 6))
			return dev_why(why, whylen, "the socket is given by the path");
		else if (!strchr(tok, '='))
			return dev_why(why, whylen, "expected key=value after the path");
		else {
			size_t u = strlen(d->extra);
			snprintf(d->extra + u, sizeof(d->extra) - u, ",%s", tok);
		}
	}
	if (role < 0)
		return dev_why(why, whylen, "memif needs role=server or role=client");
	d->server = role;
	if (!d->server) {
		d->t.start_tries = 50;
		d->t.link_wait_ms = 3000;
	}
	return 0;
}

static int memif_devarg(struct dpdk_spec *sp, const struct dpdk_env *env, char *why, size_t whylen)
{
	(void)env;
	(void)why;
	(void)whylen;
	snprintf(sp->devarg, sizeof(sp->devarg), "net_memif0,role=%s,socket=%s,socket-abstract=no%s",
		 sp->dev.server ? "server" : "client", sp->dev.path, sp->dev.extra);
	return 0;
}

/* Whether a socket in this network namespace listens on `path`, from
 * /proc/net/unix (flag __SO_ACCEPTCON). Not by connecting: DPDK 22.11's
 * memif server panics when a control connection closes before its hello. */
static int unix_listening(const char *path)
{
	char line[512], p[sizeof(line)];
	unsigned long flags;
	int found = 0;
	FILE *f = fopen("/proc/net/unix", "re");

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		/* Num RefCount Protocol Flags Type St Inode Path */
		if (sscanf(line, "%*s %*s %*s %lx %*s %*s %*s %511s", &flags, p) == 2 &&
		    (flags & 0x10000) && !strcmp(p, path))
			found = 1;
	}
	fclose(f);
	return found;
}

/* A server's socket file left by a process that died: nobody listens on it,
 * so it is removed. One that is listened on belongs to a live server. A
 * client waits (up to 10 s) for the server's file. */
static int memif_prepare(const struct dev *d, char *why, size_t whylen)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	struct stat st;

	if (!d->server) {
		for (int i = 0; i < 10 * 100 && stat(d->path, &st) != 0; i++)
			nanosleep(&ts, NULL);
		return 0;
	}
	if (lstat(d->path, &st) != 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(why, whylen, "memif socket path exists and is not a socket (%s)", d->path);
		return -ENODEV;
	}
	if (unix_listening(d->path)) {
		snprintf(why, whylen, "another memif server is listening (%s)", d->path);
		return -ENODEV;
	}
	unlink(d->path);
	return 0;
}

const struct dev_kind dev_memif = {
	.name = "memif",
	.syntax = "memif:SOCK,role=server|client[,KEY=VALUE...]",
	.vdev = 1,
	.parse = memif_parse,
	.devarg = memif_devarg,
	.prepare = memif_prepare,
};
