/* From the configured device to EAL arguments: every device kind of the
 * table (parsed, validated, its traits, its EAL arguments), the memory
 * modes, eal_args appended, the errors a user can make, and the config
 * check (demi/dev.h) agreeing with the driver. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "demi/dev.h"
#include "netif/dpdk.h"

static const struct dpdk_env ENV = { .prog = "demo", .cpus = "0,1", .hugepages = 0, .mem_mb = 128 };

/* argv joined by blanks */
static const char *joined(const struct dpdk_spec *sp)
{
	static char out[4096];
	size_t u = 0;
	out[0] = 0;
	for (int i = 0; i < sp->argc; i++)
		u += (size_t)snprintf(out + u, sizeof(out) - u, "%s%s", i ? " " : "", sp->argv[i]);
	return out;
}

static void build_ok(struct dpdk_spec *sp, const char *dev, const char *eal, const struct dpdk_env *env)
{
	char err[256] = "";
	int rc = dpdk_spec_build(sp, dev, eal, env, err, sizeof(err));
	if (rc != 0)
		fail_msg("%s: %s", dev, err);
	assert_null(sp->argv[sp->argc]);
}

static void test_tap_vdev_own_mac_and_common_flags(void **state)
{
	static struct dpdk_spec sp;
	static const uint8_t mac[6] = { 2, 0xde, 1, 2, 3, 4 };
	struct dpdk_env env = ENV;
	(void)state;
	env.mac = mac;
	build_ok(&sp, "tap:demi0", NULL, &env);
	assert_ptr_equal(sp.dev.kind, &dev_tap);
	assert_string_equal(sp.dev.iface, "demi0");
	assert_string_equal(joined(&sp),
			    "demo --lcores 0@(0,1) --no-telemetry --log-level=*:error --no-huge -m 128 "
			    "--no-shconf --no-pci --vdev net_tap0,iface=demi0,mac=02:df:01:02:03:04");
	assert_memory_equal(sp.mac, mac, 6); /* the stack's; mac= is the kernel end's */
}

static void test_tap_mac_derived_from_name_is_stable_and_local(void **state)
{
	uint8_t a[6], b[6], c[6];
	(void)state;
	dpdk_mac_from_name("demi0", a);
	dpdk_mac_from_name("demi0", b);
	dpdk_mac_from_name("demi1", c);
	assert_memory_equal(a, b, 6);
	assert_memory_not_equal(a, c, 6);
	assert_int_equal(a[0] & 3, 2); /* locally administered unicast */
}

static void test_memif_server_and_client(void **state)
{
	static struct dpdk_spec sp;
	(void)state;
	build_ok(&sp, "memif:/run/x.sock,role=server", NULL, &ENV);
	assert_ptr_equal(sp.dev.kind, &dev_memif);
	assert_true(sp.dev.server);
	assert_string_equal(sp.dev.path, "/run/x.sock");
	assert_string_equal(sp.devarg, "net_memif0,role=server,socket=/run/x.sock,socket-abstract=no");
	build_ok(&sp, "memif:/tmp/y.sock,role=client,id=3", NULL, &ENV);
	assert_false(sp.dev.server);
	assert_string_equal(sp.devarg, "net_memif0,role=client,socket=/tmp/y.sock,socket-abstract=no,id=3");
}

static void test_af_xdp_af_packet_pci(void **state)
{
	static struct dpdk_spec sp;
	(void)state;
	build_ok(&sp, "af_xdp:veth1", NULL, &ENV);
	assert_string_equal(sp.devarg, "net_af_xdp0,iface=veth1,start_queue=0,queue_count=1");
	build_ok(&sp, "af_packet:veth2", NULL, &ENV);
	assert_string_equal(sp.devarg, "net_af_packet0,iface=veth2");
	build_ok(&sp, "pci:0000:03:00.0", NULL, &ENV);
	assert_ptr_equal(sp.dev.kind, &dev_pci);
	assert_non_null(strstr(joined(&sp), " -a 0000:03:00.0"));
	assert_null(strstr(joined(&sp), "--no-pci"));
	assert_null(strstr(joined(&sp), "--vdev"));
}

static void test_hugepages_use_in_memory(void **state)
{
	static struct dpdk_spec sp;
	struct dpdk_env env = ENV;
	(void)state;
	env.hugepages = 1;
	build_ok(&sp, "tap:t0", NULL, &env);
	assert_non_null(strstr(joined(&sp), " --in-memory "));
	assert_null(strstr(joined(&sp), "--no-huge"));
}

static void test_eal_args_appended_split_on_blanks(void **state)
{
	static struct dpdk_spec sp;
	(void)state;
	build_ok(&sp, "tap:t0", "  --log-level=pmd.net.tap:debug\t-n 2 ", &ENV);
	assert_int_equal(sp.argc, 15);
	assert_string_equal(sp.argv[12], "--log-level=pmd.net.tap:debug");
	assert_string_equal(sp.argv[13], "-n");
	assert_string_equal(sp.argv[14], "2");
}

static void expect_err(const char *dev, const char *words)
{
	static struct dpdk_spec sp;
	char err[256] = "";
	assert_int_equal(dpdk_spec_build(&sp, dev, NULL, &ENV, err, sizeof(err)), -EINVAL);
	if (!strstr(err, words))
		fail_msg("'%s': '%s' lacks '%s'", dev, err, words);
	if (dev[0] && !strstr(err, dev))
		fail_msg("'%s': '%s' does not name the device", dev, err);
}

static void test_bad_devices_are_named_with_a_reason(void **state)
{
	(void)state;
	expect_err("", "no device");
	expect_err("tap", "KIND:ARG");
	expect_err("eth:x", "unknown kind");
	expect_err("tap:", "bad interface");
	expect_err("tap:way-too-long-iface-name", "bad interface");
	expect_err("af_xdp:a,b", "bad interface");
	expect_err("memif:/x.sock", "role=server or role=client");
	expect_err("memif:/x.sock,role=master", "server or client");
	expect_err("memif:role=server", "socket path");
	expect_err("memif:/x.sock,role=server,socket=/y", "given by the path");
	expect_err("pci:", "bad PCI");
	expect_err("pci:0000:03:00.0,x=1", "bad PCI");
	expect_err("tap:a:b", "bad interface");
	expect_err("af_packet:a=b", "bad interface");
	expect_err("af_packet:a b", "bad interface");
	expect_err("af_xdp:a/b", "bad interface");
	expect_err(":x", "KIND:ARG");
}

/* Every kind: its entry, the traits dpdk.c acts on, its EAL device. */
static void test_each_kind_parsed_with_its_traits(void **state)
{
	static struct dpdk_spec sp;
	(void)state;
	build_ok(&sp, "tap:t0", NULL, &ENV);
	assert_ptr_equal(sp.dev.kind, &dev_tap);
	assert_true(sp.dev.t.try_intr && sp.dev.t.own_mac);
	assert_false(sp.dev.t.umem_pool || sp.dev.t.ring_family || sp.dev.t.link_wait_ms);

	build_ok(&sp, "memif:/run/m.sock,role=server", NULL, &ENV);
	assert_ptr_equal(sp.dev.kind, &dev_memif);
	assert_non_null(sp.dev.kind->prepare);
	assert_int_equal(sp.dev.t.start_tries, 0); /* a server starts alone */
	assert_int_equal(sp.dev.t.link_wait_ms, 0);
	build_ok(&sp, "memif:/run/m.sock,role=client", NULL, &ENV);
	assert_int_equal(sp.dev.t.start_tries, 50); /* until the server accepts */
	assert_int_equal(sp.dev.t.link_wait_ms, 3000);
	assert_false(sp.dev.t.try_intr || sp.dev.t.own_mac);

	build_ok(&sp, "af_xdp:x0", NULL, &ENV);
	assert_ptr_equal(sp.dev.kind, &dev_af_xdp);
	assert_string_equal(sp.dev.iface, "x0");
	assert_int_equal(sp.dev.t.rx_gap, 256);
	assert_true(sp.dev.t.umem_pool && sp.dev.t.xdp_prog);
	assert_int_equal(sp.dev.t.ring_family, AF_XDP);

	build_ok(&sp, "af_packet:p0", NULL, &ENV);
	assert_ptr_equal(sp.dev.kind, &dev_af_packet);
	assert_int_equal(sp.dev.t.ring_family, AF_PACKET);
	assert_int_equal(sp.dev.t.rx_gap, 0);
	assert_false(sp.dev.t.umem_pool || sp.dev.t.xdp_prog || sp.dev.t.own_mac);
	assert_non_null(strstr(joined(&sp), " --no-pci --vdev net_af_packet0,iface=p0"));

	build_ok(&sp, "pci:0000:03:00.0", NULL, &ENV);
	assert_false(sp.dev.kind->vdev);
	assert_string_equal(sp.dev.pci, "0000:03:00.0");
	assert_string_equal(sp.devarg, "0000:03:00.0");
	assert_null(sp.dev.kind->prepare);
	assert_false(sp.hugepages);
}

/* xdp:IF: net_af_xdp on the queue the process took (env->xdp_queue), no
 * program file (libxdp finds ours attached), the af_xdp traits and the
 * shared one; ,queue=N its start queue. The default address is IF's (lo
 * here: 127.0.0.1/8), a kind that is not shared has none, a missing
 * interface is named. */
static void test_xdp_shared_with_the_kernel(void **state)
{
	static struct dpdk_spec sp;
	struct dpdk_env env = ENV;
	struct in_addr a;
	unsigned plen = 0;
	char err[256], why[256];
	(void)state;
	env.xdp_queue = 1;
	build_ok(&sp, "xdp:veth1", NULL, &env);
	assert_ptr_equal(sp.dev.kind, &dev_xdp);
	assert_int_equal(sp.dev.queue, -1);
	assert_string_equal(sp.devarg, "net_af_xdp0,iface=veth1,start_queue=1,queue_count=1");
	assert_true(sp.dev.t.shared && sp.dev.t.xdp_prog && sp.dev.t.umem_pool);
	assert_int_equal(sp.dev.t.ring_family, AF_XDP);
	assert_int_equal(sp.dev.t.rx_gap, 256);
	assert_false(dev_af_xdp.traits.shared);
	build_ok(&sp, "xdp:veth1,queue=3", NULL, &env);
	assert_string_equal(sp.devarg, "net_af_xdp0,iface=veth1,start_queue=3,queue_count=1");
	assert_string_equal(sp.dev.iface, "veth1");
	assert_int_equal(dpdk_spec_build(&sp, "xdp:veth1,queue=64", NULL, &env, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "queue=N"));
	assert_int_equal(dpdk_spec_build(&sp, "xdp:veth1,queue=", NULL, &env, err, sizeof(err)), -EINVAL);
	assert_int_equal(dpdk_spec_build(&sp, "xdp:veth1,q=1", NULL, &env, err, sizeof(err)), -EINVAL);
	assert_int_equal(demi_dev_default_addr("xdp:lo", &a, &plen, why, sizeof(why)), 0);
	assert_int_equal(ntohl(a.s_addr), 0x7f000001);
	assert_int_equal(plen, 8);
	assert_int_equal(demi_dev_default_addr("xdp:lo,queue=1", &a, &plen, why, sizeof(why)), 0);
	assert_int_equal(demi_dev_default_addr("af_xdp:lo", &a, &plen, why, sizeof(why)), -ENOTSUP);
	assert_int_equal(demi_dev_default_addr("xdp:nosuchif0", &a, &plen, why, sizeof(why)), -ENODEV);
	assert_non_null(strstr(why, "nosuchif0"));
}

/* The config check is the driver's parser: same verdicts, same reasons. */
static void test_config_check_agrees_with_the_driver(void **state)
{
	static const char *const devs[] = {
		"tap:demi0", "memif:/run/x.sock,role=server", "memif:/run/x.sock,role=client,id=3",
		"af_xdp:veth1", "af_packet:veth2", "pci:0000:03:00.0", "xdp:veth3", "xdp:a,b",
		"", "tap", "eth:x", "tap:", "tap:way-too-long-iface-name", "memif:/x.sock",
		"memif:/x.sock,role=master", "memif:/x.sock,id", "pci:", "pci:a b",
	};
	static struct dpdk_spec sp;
	char why[256], err[256], syn[512];
	(void)state;
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		int c = demi_dev_check(devs[i], why, sizeof(why));
		struct dpdk_env env = ENV;
		int b;
		b = dpdk_spec_build(&sp, devs[i], NULL, &env, err, sizeof(err));
		if ((c == 0) != (b == 0))
			fail_msg("'%s': check %d, driver %d", devs[i], c, b);
		if (c && (c != -EINVAL || !strstr(err, why)))
			fail_msg("'%s': check says '%s', driver '%s'", devs[i], why, err);
	}
	dev_syntax(syn, sizeof(syn));
	for (const char *k = "tap:IF\0memif:SOCK,role=server|client\0af_xdp:IF\0af_packet:IF\0pci:ADDR\0xdp:IF\0"; *k;
	     k += strlen(k) + 1)
		if (!strstr(syn, k))
			fail_msg("syntax '%s' lacks '%s'", syn, k);
}

/* memif's preparation: a dead server's socket file is reclaimed, a plain
 * file or a live server's socket refused, naming the path. */
static void test_memif_prepare_reclaims_a_dead_servers_socket(void **state)
{
	static struct dpdk_spec sp;
	char dir[] = "/tmp/demi-memif.XXXXXX", dev[256], why[256];
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/s.sock", dir);
	snprintf(dev, sizeof(dev), "memif:%s,role=server", a.sun_path);
	build_ok(&sp, dev, NULL, &ENV);
	assert_int_equal(sp.dev.kind->prepare(&sp.dev, why, sizeof(why)), 0); /* no file */

	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(sp.dev.kind->prepare(&sp.dev, why, sizeof(why)), -ENODEV);
	assert_non_null(strstr(why, "another memif server"));
	assert_non_null(strstr(why, a.sun_path));
	close(fd); /* the file stays, nobody listens */
	assert_int_equal(stat(a.sun_path, &st), 0);
	assert_int_equal(sp.dev.kind->prepare(&sp.dev, why, sizeof(why)), 0);
	assert_int_not_equal(stat(a.sun_path, &st), 0);

	fd = open(a.sun_path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	assert_int_equal(sp.dev.kind->prepare(&sp.dev, why, sizeof(why)), -ENODEV);
	assert_non_null(strstr(why, "not a socket"));
	unlink(a.sun_path);
	rmdir(dir);
}

static void test_hugepages_need_mount_and_free_pages(void **state)
{
	char mi[] = "/tmp/demi-mi.XXXXXX", mo[] = "/tmp/demi-mo.XXXXXX";
	int a = mkstemp(mi), b = mkstemp(mo);
	FILE *f;
	(void)state;
	assert_true(a >= 0 && b >= 0);
	close(a);
	close(b);
	f = fopen(mi, "w");
	fprintf(f, "MemTotal: 100 kB\nHugePages_Total: 512\nHugePages_Free: 300\nHugepagesize: 2048 kB\n");
	fclose(f);
	f = fopen(mo, "w");
	fprintf(f, "proc /proc proc rw 0 0\n");
	fclose(f);
	assert_int_equal(dpdk_hugepages_free(mi, mo), 0); /* not mounted */
	f = fopen(mo, "a");
	fprintf(f, "nodev /dev/hugepages hugetlbfs rw,relatime 0 0\n");
	fclose(f);
	assert_int_equal(dpdk_hugepages_free(mi, mo), 300ull * 2048 * 1024);
	unlink(mi);
	unlink(mo);
}

static void test_mem_mb_grows_with_the_pool(void **state)
{
	(void)state;
	uint32_t r = DPDK_ROOM_DEFAULT;
	assert_int_equal(dpdk_mem_mb(8192, r) % 64, 0);
	assert_true(dpdk_mem_mb(8192, r) >= 64 + 8192 * 2560 / (1 << 20));
	assert_true(dpdk_mem_mb(65536, r) > dpdk_mem_mb(8192, r));
	assert_true(dpdk_mem_mb(16384, r) >= 128);
	assert_true(dpdk_mem_mb(2048, dpdk_mbuf_room(9000, 0)) >= 64 + 2048 * 9152 / (1 << 20));
}

static void test_jumbo_frames_get_bigger_buffers(void **state)
{
	(void)state;
	assert_int_equal(dpdk_mbuf_room(1500, 0), DPDK_ROOM_DEFAULT);
	assert_int_equal(dpdk_mbuf_room(576, 256), DPDK_ROOM_DEFAULT);
	/* a 9000-byte packet with its Ethernet header and a tag fits one buffer */
	assert_true(dpdk_mbuf_room(9000, 0) >= PBUF_HEADROOM + 9000 + 18);
	assert_int_equal((dpdk_mbuf_room(9000, 0) - PBUF_HEADROOM) % 64, 0);
	/* af_xdp: the frame lands 256 bytes past the headroom */
	assert_true(dpdk_mbuf_room(3000, 256) >= PBUF_HEADROOM + 256 + 3000 + 18);
	/* at 1500 the default room leaves af_xdp that gap already */
	assert_true(DPDK_ROOM_DEFAULT - PBUF_HEADROOM >= 256 + 1500 + 18);
	assert_true(dpdk_mbuf_room(1501, 0) >= PBUF_HEADROOM + 1501 + 18);
	/* the pool keeps about the same bytes, never below 2048 buffers */
	assert_int_equal(dpdk_pool_mbufs(0, DPDK_ROOM_DEFAULT), DPDK_MBUFS_DEFAULT);
	assert_int_equal(dpdk_pool_mbufs(0, dpdk_mbuf_room(9000, 0)), 2048);
	assert_int_equal(dpdk_pool_mbufs(3000, dpdk_mbuf_room(9000, 0)), 3000);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tap_vdev_own_mac_and_common_flags),
		cmocka_unit_test(test_tap_mac_derived_from_name_is_stable_and_local),
		cmocka_unit_test(test_memif_server_and_client),
		cmocka_unit_test(test_af_xdp_af_packet_pci),
		cmocka_unit_test(test_hugepages_use_in_memory),
		cmocka_unit_test(test_eal_args_appended_split_on_blanks),
		cmocka_unit_test(test_bad_devices_are_named_with_a_reason),
		cmocka_unit_test(test_each_kind_parsed_with_its_traits),
		cmocka_unit_test(test_xdp_shared_with_the_kernel),
		cmocka_unit_test(test_config_check_agrees_with_the_driver),
		cmocka_unit_test(test_memif_prepare_reclaims_a_dead_servers_socket),
		cmocka_unit_test(test_hugepages_need_mount_and_free_pages),
		cmocka_unit_test(test_mem_mb_grows_with_the_pool),
		cmocka_unit_test(test_jumbo_frames_get_bigger_buffers),
	};
	return cmocka_run_group_tests_name("dpdk_args", tests, NULL, NULL);
}
