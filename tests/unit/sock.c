/* The argument checks the socket API makes before any protocol sees a call
 * (stack/sock.c), shown on UDP sockets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include "../lib/pt.h"
#include "sock.h"

static struct sock *udp(struct pt *t)
{
	struct sock *s;
	assert_int_equal(sock_create(t->st, SOCK_DGRAM, &s), 0);
	return s;
}

static void test_sock_create_null_arguments_einval(void **state)
{
	struct pt *t = *state;
	struct sock *s;
	assert_int_equal(sock_create(NULL, SOCK_DGRAM, &s), -EINVAL);
	assert_int_equal(sock_create(t->st, SOCK_DGRAM, NULL), -EINVAL);
}

static void test_sock_create_unknown_type_esocktnosupport(void **state)
{
	struct pt *t = *state;
	struct sock *s = NULL;
	assert_int_equal(sock_create(t->st, SOCK_RAW, &s), -ESOCKTNOSUPPORT);
	assert_int_equal(sock_create(t->st, SOCK_SEQPACKET, &s), -ESOCKTNOSUPPORT);
	assert_null(s);
}

static void test_sock_create_dgram_gives_udp_handle(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp(t);
	assert_int_equal(sock_type(s), SOCK_DGRAM);
	assert_ptr_equal(sock_stack(s), t->st);
	assert_int_equal(sock_events(s), EPOLLOUT);
	assert_int_equal(sock_close(s), 0);
}

static void test_sock_bind_null_address_efault(void **state)
{
	struct pt *t = *state;
	assert_int_equal(sock_bind(udp(t), NULL), -EFAULT);
}

static void test_sock_bind_other_family_eafnosupport(void **state)
{
	struct pt *t = *state;
	struct sockaddr_in a = { .sin_family = AF_INET6 };
	struct sock *s = udp(t);
	assert_int_equal(sock_bind(s, &a), -EAFNOSUPPORT);
	a.sin_family = AF_UNSPEC;
	assert_int_equal(sock_bind(s, &a), -EAFNOSUPPORT);
}

static void test_sock_connect_null_address_efault(void **state)
{
	struct pt *t = *state;
	assert_int_equal(sock_connect(udp(t), NULL), -EFAULT);
}

static void test_sock_connect_other_family_eafnosupport(void **state)
{
	struct pt *t = *state;
	struct sockaddr_in a = { .sin_family = AF_INET6 };
	struct sock *s = udp(t);
	assert_int_equal(sock_connect(s, &a), -EAFNOSUPPORT);
	a.sin_family = AF_UNSPEC; /* a disconnect: allowed */
	assert_int_equal(sock_connect(s, &a), 0);
}

static void test_sock_send_negative_iovcnt_einval(void **state)
{
	struct pt *t = *state;
	struct iovec iov = { (void *)"x", 1 };
	assert_int_equal(sock_send(udp(t), &iov, -1, 0, NULL), -EINVAL);
}

static void test_sock_send_null_iov_with_count_einval(void **state)
{
	struct pt *t = *state;
	assert_int_equal(sock_send(udp(t), NULL, 1, 0, NULL), -EINVAL);
}

static void test_sock_send_other_family_destination_eafnosupport(void **state)
{
	struct pt *t = *state;
	struct iovec iov = { (void *)"x", 1 };
	struct sockaddr_in a = { .sin_family = AF_INET6 };
	assert_int_equal(sock_send(udp(t), &iov, 1, 0, &a), -EAFNOSUPPORT);
	pt_step(t, 0);
	pt_expect_nothing(t);
}

static void test_sock_send_no_iovecs_is_empty_datagram(void **state)
{
	struct pt *t = *state;
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct pt_frame r;
	struct udp_hdr u;
	a.sin_addr.s_addr = htonl(PT_PEER_IP);
	a.sin_port = htons(53);
	assert_int_equal(sock_send(udp(t), NULL, 0, 0, &a), 0);
	pt_step(t, 0);
	pt_expect_udp(t, &r, &u);
	assert_int_equal(u.len, 8);
}

static void test_sock_recv_negative_iovcnt_einval(void **state)
{
	struct pt *t = *state;
	char b[4];
	struct iovec iov = { b, sizeof(b) };
	assert_int_equal(sock_recv(udp(t), &iov, -1, 0, NULL), -EINVAL);
}

static void test_sock_recv_null_iov_with_count_einval(void **state)
{
	struct pt *t = *state;
	assert_int_equal(sock_recv(udp(t), NULL, 2, 0, NULL), -EINVAL);
}

static void test_sock_shutdown_bad_how_einval(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp(t);
	assert_int_equal(sock_shutdown(s, 3), -EINVAL);
	assert_int_equal(sock_shutdown(s, -1), -EINVAL);
	assert_int_equal(sock_events(s) & (EPOLLRDHUP | EPOLLHUP), 0); /* nothing was shut */
}

static void test_sock_close_null_ebadf(void **state)
{
	(void)state;
	assert_int_equal(sock_close(NULL), -EBADF);
}

static void test_sock_setopt_null_value_efault(void **state)
{
	struct pt *t = *state;
	assert_int_equal(sock_setopt(udp(t), SOL_SOCKET, SO_REUSEADDR, NULL, sizeof(int)), -EFAULT);
}

static void test_sock_getopt_null_length_efault(void **state)
{
	struct pt *t = *state;
	int v;
	assert_int_equal(sock_getopt(udp(t), SOL_SOCKET, SO_TYPE, &v, NULL), -EFAULT);
}

static void test_sock_getopt_null_value_efault(void **state)
{
	struct pt *t = *state;
	socklen_t len = sizeof(int);
	assert_int_equal(sock_getopt(udp(t), SOL_SOCKET, SO_TYPE, NULL, &len), -EFAULT);
}

static void test_sock_peer_unconnected_enotconn(void **state)
{
	struct pt *t = *state;
	struct sockaddr_in a;
	assert_int_equal(sock_peer(udp(t), &a), -ENOTCONN);
}

static void test_sock_tx_bytes_of_udp_is_zero(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp(t);
	struct iovec iov = { (void *)"abc", 3 };
	struct sockaddr_in a = { .sin_family = AF_INET };
	a.sin_addr.s_addr = htonl(PT_PEER_IP);
	a.sin_port = htons(53);
	assert_int_equal(sock_send(s, &iov, 1, 0, &a), 3);
	assert_int_equal(sock_tx_bytes(s), 0); /* handed to the device at once */
}

static int wakes;
static void count_wake(struct sock *s, void *arg)
{
	(void)s;
	(void)arg;
	wakes++;
}

/* Linux's inet_shutdown() on a listener: SHUT_WR changes nothing; SHUT_RD
 * (or RDWR) stops it and wakes a blocked accept, which fails with EINVAL. */
static void test_sock_shutdown_listener_stops_it_and_wakes(void **state)
{
	struct pt *t = *state;
	struct sock *s, *c = NULL;
	struct sockaddr_in a = { .sin_family = AF_INET }, peer;
	int on = 0;
	socklen_t l = sizeof(on);

	a.sin_port = htons(8080);
	assert_int_equal(sock_create(t->st, SOCK_STREAM, &s), 0);
	assert_int_equal(sock_bind(s, &a), 0);
	assert_int_equal(sock_listen(s, 8), 0);
	wakes = 0;
	sock_set_notify(s, count_wake, NULL);
	assert_int_equal(sock_shutdown(s, SHUT_WR), 0);
	assert_int_equal(sock_getopt(s, SOL_SOCKET, SO_ACCEPTCONN, &on, &l), 0);
	assert_int_equal(on, 1);
	assert_int_equal(sock_accept(s, &c, &peer), -EAGAIN);
	assert_int_equal(sock_shutdown(s, SHUT_RDWR), 0);
	assert_true(wakes > 0);
	assert_int_equal(sock_accept(s, &c, &peer), -EINVAL);
	assert_null(c);
	assert_int_equal(sock_events(s), EPOLLOUT | EPOLLHUP); /* Linux's TCP_CLOSE */
	assert_int_equal(sock_shutdown(s, SHUT_RDWR), -ENOTCONN);
	assert_int_equal(sock_name(s, &peer), 0);
	assert_int_equal(peer.sin_port, htons(8080)); /* still bound */
	assert_int_equal(sock_listen(s, 8), -EINVAL);
	assert_int_equal(sock_close(s), 0);
	/* the port is free again */
	assert_int_equal(sock_create(t->st, SOCK_STREAM, &s), 0);
	assert_int_equal(sock_bind(s, &a), 0);
	assert_int_equal(sock_listen(s, 8), 0);
	assert_int_equal(sock_close(s), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, pt_setup, pt_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_sock_create_null_arguments_einval),
		T(test_sock_shutdown_listener_stops_it_and_wakes),
		T(test_sock_create_unknown_type_esocktnosupport),
		T(test_sock_create_dgram_gives_udp_handle),
		T(test_sock_bind_null_address_efault),
		T(test_sock_bind_other_family_eafnosupport),
		T(test_sock_connect_null_address_efault),
		T(test_sock_connect_other_family_eafnosupport),
		T(test_sock_send_negative_iovcnt_einval),
		T(test_sock_send_null_iov_with_count_einval),
		T(test_sock_send_other_family_destination_eafnosupport),
		T(test_sock_send_no_iovecs_is_empty_datagram),
		T(test_sock_recv_negative_iovcnt_einval),
		T(test_sock_recv_null_iov_with_count_einval),
		T(test_sock_shutdown_bad_how_einval),
		T(test_sock_close_null_ebadf),
		T(test_sock_setopt_null_value_efault),
		T(test_sock_getopt_null_length_efault),
		T(test_sock_getopt_null_value_efault),
		T(test_sock_peer_unconnected_enotconn),
		T(test_sock_tx_bytes_of_udp_is_zero),
	};
	return cmocka_run_group_tests_name("sock", tests, NULL, NULL);
}
