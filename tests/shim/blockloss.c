/* A program that writes and then blocks outside the shim's calls, over a
 * lossy link (tests/shim/progress_loss_tap.sh): what was lost is
 * retransmitted by the runtime's progress thread, or not at all until the
 * program calls in again.
 *
 *   blockloss ADDR PORT BURSTS BYTES SLEEP_MS
 *       connect; BURSTS times: write BYTES (at most the initial window, so
 *       all of it leaves at once), the first 8 of them the time of the
 *       write (CLOCK_REALTIME, a double), the rest byte i = i % 251; then
 *       nanosleep SLEEP_MS. TCP_NODELAY. Close, exit 0. */
#include <netinet/tcp.h>
#include <time.h>

#include "t.h"

int main(int argc, char **argv)
{
	static unsigned char buf[1 << 16];
	int s, bursts;
	size_t bytes;
	struct timespec nap;

	if (argc != 6)
		DIE("usage: blockloss ADDR PORT BURSTS BYTES SLEEP_MS");
	bursts = atoi(argv[3]);
	bytes = (size_t)atol(argv[4]);
	nap.tv_sec = atol(argv[5]) / 1000;
	nap.tv_nsec = atol(argv[5]) % 1000 * 1000000L;
	if (bytes < 8 || bytes > sizeof(buf))
		DIE("BYTES: 8 to %zu", sizeof(buf));
	for (size_t i = 8; i < bytes; i++)
		buf[i] = (unsigned char)(i % 251);
	s = t_connect_addr(argv[1], atoi(argv[2]));
	/* no Nagle: the burst's last, short segment leaves with the rest rather
	 * than when the ACK of the others is read, so only a loss needs a pass */
	if (setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int)) != 0)
		DIE("TCP_NODELAY");
	for (int b = 0; b < bursts; b++) {
		struct timespec ts;
		double at;
		clock_gettime(CLOCK_REALTIME, &ts);
		at = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
		memcpy(buf, &at, sizeof(at));
		for (size_t off = 0; off < bytes;) {
			ssize_t w = write(s, buf + off, bytes - off);
			if (w <= 0)
				DIE("write");
			off += (size_t)w;
		}
		nanosleep(&nap, NULL); /* outside the shim: nothing drives the stack */
	}
	close(s);
	SAY("done");
	return 0;
}
