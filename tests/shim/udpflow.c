/* UDP in the shapes programs use it, for runs bypassed over a tap device
 * and on the kernel (tests/shim/bypass_udp.sh); the output must match.
 *   udpflow server PORT        bound to a [bypass] listen port: recvfrom,
 *                              recvmsg with MSG_TRUNC, recvmmsg, replies
 *   udpflow client ADDR PORT   sendto a [bypass] connect destination, poll,
 *                              connect + send/recv, sendmmsg, timeouts
 * The peer is tests/shim/peer.py (udp-client / udp-echo). */
#include <fcntl.h>
#include <poll.h>
#include <sys/uio.h>

#include "t.h"

static int wait_in(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, ms);
}

static int run_server(unsigned short port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)}, from;
	socklen_t fl;
	char b[4096];
	int u = socket(AF_INET, SOCK_DGRAM, 0);

	T("bind", bind(u, (struct sockaddr *)&a, sizeof(a)));
	T("nothing yet", recv(u, b, sizeof(b), MSG_DONTWAIT));
	if (getenv("READY_FILE"))
		close(open(getenv("READY_FILE"), O_CREAT | O_WRONLY, 0600));
	/* the peer sends "one", "two", "three", then a 1400-byte datagram,
	 * then "a" "b" "c" for recvmmsg, each answered in upper case */
	for (int i = 0; i < 3; i++) {
		fl = sizeof(from);
		ssize_t n = recvfrom(u, b, sizeof(b), 0, (struct sockaddr *)&from, &fl);
		T("recvfrom", n);
		T("from len", fl);
		SAY("datagram %.*s", (int)(n > 0 ? n : 0), b);
		for (ssize_t k = 0; k < n; k++)
			b[k] = (char)(b[k] - 32);
		T("sendto reply", sendto(u, b, (size_t)n, 0, (struct sockaddr *)&from, fl));
	}
	{
		struct iovec v = {b, 100};
		struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &v, .msg_iovlen = 1};
		T("wait big", wait_in(u, 10000));
		T("recvmsg MSG_TRUNC", recvmsg(u, &m, MSG_TRUNC));
		T("recvmsg flags", m.msg_flags);
		T("recvmsg namelen", m.msg_namelen);
		T("sendto big reply", sendto(u, b, 100, 0, (struct sockaddr *)&from, sizeof(from)));
	}
	{
		struct mmsghdr mm[3];
		struct iovec v[3];
		char bufs[3][16];
		memset(mm, 0, sizeof(mm));
		for (int i = 0; i < 3; i++) {
			v[i] = (struct iovec){bufs[i], sizeof(bufs[i])};
			mm[i].msg_hdr.msg_iov = &v[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		int got = 0;
		while (got < 3) {
			struct timespec ts = {5, 0};
			int n = recvmmsg(u, mm + got, (unsigned)(3 - got), MSG_WAITFORONE, &ts);
			if (n <= 0)
				DIE("recvmmsg");
			got += n;
		}
		SAY("recvmmsg %.*s %.*s %.*s", (int)mm[0].msg_len, bufs[0], (int)mm[1].msg_len, bufs[1],
		    (int)mm[2].msg_len, bufs[2]);
		fl = sizeof(from);
		T("recv none left", recvfrom(u, b, sizeof(b), MSG_DONTWAIT, (struct sockaddr *)&from, &fl));
	}
	T("close", close(u));
	return 0;
}

static int run_client(const char *addr, unsigned short port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	char b[2048];
	int u = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	struct timeval tv = {0, 200000};

	inet_pton(AF_INET, addr, &a.sin_addr);
	/* resend until the first answer: the path may need ARP first */
	for (int i = 0; i < 100; i++) {
		if (sendto(u, "hello", 5, 0, (struct sockaddr *)&a, sizeof(a)) != 5)
			DIE("sendto");
		if (wait_in(u, 200) == 1)
			break;
	}
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	T("first answer", recvfrom(u, b, sizeof(b), 0, (struct sockaddr *)&from, &fl));
	T("answer from the peer", from.sin_port == a.sin_port && from.sin_addr.s_addr == a.sin_addr.s_addr);
	/* answers to the resends may still come: a marker ends them (one path, in order) */
	sendto(u, "sync", 4, 0, (struct sockaddr *)&a, sizeof(a));
	for (;;) {
		ssize_t n;
		if (wait_in(u, 5000) != 1)
			DIE("sync");
		if ((n = recv(u, b, sizeof(b), 0)) == 4 && !memcmp(b, "sync", 4))
			break;
	}
	T("sendto 1000", sendto(u, b, 1000, 0, (struct sockaddr *)&a, sizeof(a)));
	T("poll", wait_in(u, 5000));
	T("recv 1000", recv(u, b, sizeof(b), 0));
	{
		int v = -1;
		socklen_t vl = sizeof(v);
		T("getsockopt IP_MTU_DISCOVER", getsockopt(u, IPPROTO_IP, IP_MTU_DISCOVER, &v, &vl));
		SAY("IP_MTU_DISCOVER %d", v);
		v = 9;
		T("setsockopt IP_MTU_DISCOVER 9", setsockopt(u, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof(v)));
		v = IP_PMTUDISC_DONT;
		T("setsockopt IP_MTU_DISCOVER DONT", setsockopt(u, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof(v)));
	}
	{ /* above the tap's MTU: fragments both ways under the shim */
		static char big[9000], back[9100];
		for (size_t i = 0; i < sizeof(big); i++)
			big[i] = (char)(i * 11);
		T("sendto 9000", sendto(u, big, sizeof(big), 0, (struct sockaddr *)&a, sizeof(a)));
		T("poll 9000", wait_in(u, 5000));
		T("recv 9000", recv(u, back, sizeof(back), 0));
		T("9000 bytes back intact", !memcmp(big, back, sizeof(big)));
	}
	T("sendto zero", sendto(u, b, 0, 0, (struct sockaddr *)&a, sizeof(a)));
	T("poll zero", wait_in(u, 5000));
	T("recv zero", recv(u, b, sizeof(b), 0));
	T("connect", connect(u, (struct sockaddr *)&a, sizeof(a)));
	T("fcntl blocking", fcntl(u, F_SETFL, 0));
	T("send connected", send(u, "conn", 4, 0));
	T("recv connected", recv(u, b, sizeof(b), 0));
	{
		struct mmsghdr mm[2];
		struct iovec v[2] = {{"m1", 2}, {"m22", 3}};
		memset(mm, 0, sizeof(mm));
		mm[0].msg_hdr.msg_iov = &v[0];
		mm[0].msg_hdr.msg_iovlen = 1;
		mm[1].msg_hdr.msg_iov = &v[1];
		mm[1].msg_hdr.msg_iovlen = 1;
		T("sendmmsg", sendmmsg(u, mm, 2, 0));
		T("recv m1", recv(u, b, sizeof(b), 0));
		T("recv m22", recv(u, b, sizeof(b), 0));
	}
	setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	T("recv timeout", recv(u, b, sizeof(b), 0));
	{
		struct sockaddr_in pa;
		socklen_t pl = sizeof(pa);
		T("getpeername", getpeername(u, (struct sockaddr *)&pa, &pl) == 0 && pa.sin_port == a.sin_port);
		pl = sizeof(pa);
		T("getsockname", getsockname(u, (struct sockaddr *)&pa, &pl) == 0 && pa.sin_port != 0);
	}
	T("send to the peer's quit", send(u, "quit", 4, 0));
	T("close", close(u));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "server"))
		return run_server((unsigned short)atoi(argv[2]));
	if (argc == 4 && !strcmp(argv[1], "client"))
		return run_client(argv[2], (unsigned short)atoi(argv[3]));
	fprintf(stderr, "usage: udpflow server PORT | client ADDR PORT\n");
	return 2;
}
