/* Reclaiming what dead processes left in the counters folder (demi/shm.h).
 * No runtime needed: the shim calls it before any stack is loaded, and the
 * runtime when a stack starts. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "demi/shm.h"

void demi_shm_reclaim(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];
	struct stat sb;
	int pid;

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (sscanf(e->d_name, DEMI_SHM_PREFIX "%d.", &pid) != 1 || pid <= 0)
			continue;
		if (kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    (sb.st_uid == geteuid() || geteuid() == 0))
			unlink(path);
	}
	closedir(d);
}
