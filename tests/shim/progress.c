/* A program that stops calling into its sockets while its connection still
 * has work to do, as servers do when they wait on a pipe, a child or a timer
 * (tests/shim/progress_tap.sh). Plain POSIX calls only.
 *
 *   progress send ADDR PORT BYTES
 *       connect, write BYTES of a pattern (blocking writes), say "written",
 *       then block in read() on stdin until a line comes; then close. The
 *       part of BYTES still in the send buffer when the last write returned
 *       reaches the peer only if the connection moves during the read.
 *   progress recv ADDR PORT BYTES RELEASE_FILE
 *       connect, say "connected", then sleep until RELEASE_FILE exists (the
 *       peer's data must be ACKed meanwhile); then read BYTES, check the
 *       pattern, expect the end of the stream.
 *
 * Byte i of either stream is (i * 7) % 251. Exit 0 on success. */
#include <time.h>

#include "t.h"

static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 7 % 251);
}

static int run_send(int s, size_t bytes)
{
	unsigned char buf[65536];
	size_t off = 0;
	char line[64];

	while (off < bytes) {
		size_t n = bytes - off < sizeof(buf) ? bytes - off : sizeof(buf);
		ssize_t w;
		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(off + i);
		w = write(s, buf, n);
		if (w <= 0)
			DIE("write at %zu", off);
		off += (size_t)w;
	}
	SAY("written %zu", off);
	/* blocked outside the socket calls: nothing here drives the stack */
	if (read(0, line, sizeof(line)) < 0)
		DIE("read stdin");
	SAY("released");
	if (close(s) != 0)
		DIE("close");
	return 0;
}

static int run_recv(int s, size_t bytes, const char *release)
{
	struct timespec nap = { 0, 20 * 1000 * 1000 };
	unsigned char buf[65536];
	size_t off = 0;

	SAY("connected");
	/* asleep: nothing here drives the stack either */
	while (access(release, F_OK) != 0)
		nanosleep(&nap, NULL);
	SAY("released");
	for (;;) {
		ssize_t r = read(s, buf, sizeof(buf));
		if (r < 0)
			DIE("read at %zu", off);
		if (r == 0)
			break;
		for (ssize_t i = 0; i < r; i++)
			if (buf[i] != pattern(off + (size_t)i)) {
				SAY("mismatch at %zu", off + (size_t)i);
				return 1;
			}
		off += (size_t)r;
	}
	SAY("received %zu", off);
	close(s);
	return off == bytes ? 0 : 1;
}

int main(int argc, char **argv)
{
	size_t bytes;
	int s;

	if (argc < 5 || (strcmp(argv[1], "recv") == 0 && argc < 6)) {
		fprintf(stderr, "usage: progress send|recv ADDR PORT BYTES [RELEASE_FILE]\n");
		return 2;
	}
	bytes = strtoul(argv[4], NULL, 0);
	s = t_connect_addr(argv[2], atoi(argv[3]));
	if (strcmp(argv[1], "send") == 0)
		return run_send(s, bytes);
	if (strcmp(argv[1], "recv") == 0)
		return run_recv(s, bytes, argv[5]);
	fprintf(stderr, "progress: unknown mode %s\n", argv[1]);
	return 2;
}
