/* The INI configuration (DESIGN.md), parsed with libinih. An unknown section
 * or key, or a bad value, is an error naming file:line; a config with errors
 * bypasses nothing (on_error = fail: AF_INET sockets then fail instead). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demi/dev.h"
#include "shim.h"

struct shim_cfg cfg;

struct cfg_reader {
	FILE *f;
	int line;
	const char *path;
	struct shim_cfg *c;
	int errors;
	int sec_line, sec_reported; /* line of the current [section] */
	int has_device, has_address, has_rules;
	int gateway6_line; /* checked against address6 at the end */
};

#define cfg_err(r, ...)                                                            \
	do {                                                                           \
		char m_[256];                                                              \
		snprintf(m_, sizeof(m_), __VA_ARGS__);                                     \
		log_error("%s:%d: %s", (r)->path, (r)->line, m_);                          \
		(r)->errors++;                                                             \
	} while (0)

static char *cfg_read_line(char *str, int num, void *stream)
{
	struct cfg_reader *r = stream;
	char *s = fgets(str, num, r->f);
	if (s) {
		const char *p = s;
		r->line++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '[')
			r->sec_line = r->line;
	}
	return s;
}

static int parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_bool(const char *s, int *out)
{
	if (!strcasecmp(s, "yes") || !strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "on"))
		*out = 1;
	else if (!strcasecmp(s, "no") || !strcasecmp(s, "false") || !strcmp(s, "0") || !strcasecmp(s, "off"))
		*out = 0;
	else
		return -1;
	return 0;
}

/* "a.b.c.d/len" (len required when need_len), host byte order out. */
static int parse_cidr(const char *s, int need_len, uint32_t *addr, uint32_t *len)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	struct in_addr a;
	size_t n = slash ? (size_t)(slash - s) : strlen(s);

	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = 0;
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -1;
	*addr = ntohl(a.s_addr);
	if (!slash) {
		if (need_len)
			return -1;
		*len = 32;
		return 0;
	}
	return parse_u32(slash + 1, 0, 32, len);
}

static int set_listen(struct cfg_reader *r, const char *v)
{
	char buf[INI_MAX_LINE];
	char *save, *tok;

	snprintf(buf, sizeof(buf), "%s", v);
	for (tok = strtok_r(buf, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
		uint32_t lo, hi;
		char *dash = strchr(tok, '-');
		if (!strcmp(tok, "*")) {
			r->c->listen_all = 1;
			continue;
		}
		if (dash)
			*dash = 0;
		if (parse_u32(tok, 1, 65535, &lo) || (dash ? parse_u32(dash + 1, lo, 65535, &hi) : ((hi = lo), 0))) {
			cfg_err(r, "[bypass] listen: bad port '%s%s%s' (ports 1-65535, ranges a-b, or *)",
				tok, dash ? "-" : "", dash ? dash + 1 : "");
			return 0;
		}
		for (uint32_t p = lo; p <= hi; p++)
			r->c->listen_ports[p / 8] |= (uint8_t)(1u << (p % 8));
	}
	r->has_rules = 1;
	return 1;
}

static int parse_cidr6(const char *s, int need_len, struct in6_addr *a, uint32_t *len);

static int set_connect(struct cfg_reader *r, const char *v)
{
	char buf[INI_MAX_LINE];
	char *save, *tok;

	snprintf(buf, sizeof(buf), "%s", v);
	for (tok = strtok_r(buf, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
		uint32_t a, len;
		if (!strcmp(tok, "*")) {
			r->c->connect_all = 1;
			continue;
		}
		if (strchr(tok, ':')) {
			struct in6_addr a6;
			if (parse_cidr6(tok, 0, &a6, &len)) {
				cfg_err(r, "[bypass] connect: bad prefix '%s' (a.b.c.d/len, IPv6 address/len or *)", tok);
				return 0;
			}
			if (r->c->nconnect6 == CFG_MAX_CONNECT) {
				cfg_err(r, "[bypass] connect: more than %d IPv6 prefixes", CFG_MAX_CONNECT);
				return 0;
			}
			for (unsigned i = len; i < 128; i++)
				a6.s6_addr[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
			r->c->connect6[r->c->nconnect6++] = (struct cfg_net6){a6, (uint8_t)len};
			continue;
		}
		if (parse_cidr(tok, 0, &a, &len)) {
			cfg_err(r, "[bypass] connect: bad prefix '%s' (a.b.c.d/len, IPv6 address/len or *)", tok);
			return 0;
		}
		if (r->c->nconnect == CFG_MAX_CONNECT) {
			cfg_err(r, "[bypass] connect: more than %d prefixes", CFG_MAX_CONNECT);
			return 0;
		}
		uint32_t mask = len ? ~0u << (32 - len) : 0;
		r->c->connect[r->c->nconnect++] = (struct cfg_net){a & mask, mask};
	}
	r->has_rules = 1;
	return 1;
}

/* The keys of DESIGN.md, one setter each. A setter returns 0, CFG_BAD for a
 * value the generic message describes ("[sec] key: bad value 'v' (hint)"),
 * or CFG_REPORTED after logging a message of its own. */
enum { CFG_BAD = -1, CFG_REPORTED = -2 };

static int set_device(struct cfg_reader *r, const char *v)
{
	char why[200];
	if (demi_dev_check(v, why, sizeof(why)) != 0) { /* the driver's own grammar */
		cfg_err(r, "[dpdk] device: bad value '%s': %s", v, why);
		return CFG_REPORTED;
	}
	snprintf(r->c->rt.device, sizeof(r->c->rt.device), "%s", v);
	r->has_device = 1;
	return 0;
}

static int set_eal_args(struct cfg_reader *r, const char *v)
{
	snprintf(r->c->rt.eal_args, sizeof(r->c->rt.eal_args), "%s", v);
	return 0;
}

static int set_mbufs(struct cfg_reader *r, const char *v)
{
	return parse_u32(v, 1024, 1u << 24, &r->c->rt.mbufs) ? CFG_BAD : 0;
}

static int set_spin_us(struct cfg_reader *r, const char *v)
{
	return parse_u32(v, 0, 10000000, &r->c->rt.spin_us) ? CFG_BAD : 0;
}

static int set_address(struct cfg_reader *r, const char *v)
{
	uint32_t a, len;
	if (parse_cidr(v, 1, &a, &len) || len == 0 || len > 31 || a == 0)
		return CFG_BAD;
	r->c->rt.stack.addr.s_addr = htonl(a);
	r->c->rt.stack.prefix_len = (uint8_t)len;
	r->has_address = 1;
	return 0;
}

static int set_gateway(struct cfg_reader *r, const char *v)
{
	uint32_t a, len;
	if (parse_cidr(v, 0, &a, &len) || len != 32)
		return CFG_BAD;
	r->c->rt.stack.gateway.s_addr = htonl(a);
	return 0;
}

/* "ADDR/len" or "ADDR" (len 128 out, or required when need_len). */
static int parse_cidr6(const char *s, int need_len, struct in6_addr *a, uint32_t *len)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);

	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = 0;
	if (inet_pton(AF_INET6, buf, a) != 1)
		return -1;
	if (!slash) {
		*len = 128;
		return need_len ? -1 : 0;
	}
	return parse_u32(slash + 1, 0, 128, len);
}

/* What makes a an address no host may have, or NULL. */
static const char *addr6_not_host(const struct in6_addr *a)
{
	if (IN6_IS_ADDR_UNSPECIFIED(a))
		return "the unspecified address ::";
	if (IN6_IS_ADDR_LOOPBACK(a))
		return "the loopback address";
	if (IN6_IS_ADDR_MULTICAST(a))
		return "a multicast address";
	if (IN6_IS_ADDR_V4MAPPED(a) || IN6_IS_ADDR_V4COMPAT(a))
		return "an IPv4-mapped address";
	return NULL;
}

static int set_address6(struct cfg_reader *r, const char *v)
{
	struct in6_addr a;
	uint32_t len;
	const char *why;
	if (parse_cidr6(v, 1, &a, &len) || len == 0 || len > 128)
		return CFG_BAD;
	if ((why = addr6_not_host(&a)) != NULL) {
		cfg_err(r, "[net] address6: '%s' is %s, not a host's", v, why);
		return CFG_REPORTED;
	}
	if (IN6_IS_ADDR_LINKLOCAL(&a)) {
		cfg_err(r, "[net] address6: '%s' is link-local: the stack makes its link-local address from the MAC; "
			   "give a global or unique local one", v);
		return CFG_REPORTED;
	}
	r->c->rt.stack.addr6 = a;
	r->c->rt.stack.prefix6_len = (uint8_t)len;
	return 0;
}

static int set_gateway6(struct cfg_reader *r, const char *v)
{
	struct in6_addr a;
	uint32_t len;
	const char *why;
	if (parse_cidr6(v, 0, &a, &len) || len != 128)
		return CFG_BAD;
	if ((why = addr6_not_host(&a)) != NULL) {
		cfg_err(r, "[net] gateway6: '%s' is %s, not a router's", v, why);
		return CFG_REPORTED;
	}
	r->c->rt.stack.gateway6 = a;
	r->gateway6_line = r->line;
	return 0;
}

/* gateway6 once the whole file is read: an address6 to go with it, and on
 * the link (link-local, or inside address6's prefix) as a next hop must be. */
static void check_gateway6(struct cfg_reader *r)
{
	const struct stack_cfg *s = &r->c->rt.stack;
	unsigned plen = s->prefix6_len, n = plen / 8, rem = plen % 8;
	int on_link;
	if (!r->gateway6_line)
		return;
	r->line = r->gateway6_line;
	if (IN6_IS_ADDR_UNSPECIFIED(&s->addr6)) {
		cfg_err(r, "[net] gateway6 needs [net] address6");
		return;
	}
	on_link = !memcmp(s->addr6.s6_addr, s->gateway6.s6_addr, n) &&
		  (!rem || !((s->addr6.s6_addr[n] ^ s->gateway6.s6_addr[n]) & (0xff00 >> rem)));
	if (IN6_IS_ADDR_LINKLOCAL(&s->gateway6))
		on_link = 1;
	if (!on_link) {
		char a[INET6_ADDRSTRLEN], g[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &s->addr6, a, sizeof(a));
		inet_ntop(AF_INET6, &s->gateway6, g, sizeof(g));
		cfg_err(r, "[net] gateway6: %s is not on the link (neither link-local nor in %s/%u)", g, a, plen);
	} else if (!memcmp(&s->addr6, &s->gateway6, 16)) {
		cfg_err(r, "[net] gateway6: the stack's own address6");
	}
}

static int set_mtu(struct cfg_reader *r, const char *v)
{
	uint32_t u;
	if (parse_u32(v, 576, 9000, &u))
		return CFG_BAD;
	r->c->rt.stack.mtu = (uint16_t)u;
	return 0;
}

static int set_udp(struct cfg_reader *r, const char *v)
{
	return parse_bool(v, &r->c->udp) ? CFG_BAD : 0;
}

/* v is one of names[] (case-insensitive): its index into *out. */
static int set_choice(const char *v, const char *const names[2], int *out)
{
	for (int i = 0; i < 2; i++)
		if (!strcasecmp(v, names[i])) {
			*out = i;
			return 0;
		}
	return CFG_BAD;
}

static int set_on_error(struct cfg_reader *r, const char *v)
{
	static const char *const names[2] = {"kernel", "fail"};
	return set_choice(v, names, &r->c->on_error_fail);
}

static int set_congestion(struct cfg_reader *r, const char *v)
{
	static const char *const names[2] = {"cubic", "newreno"};
	int i;
	if (set_choice(v, names, &i))
		return CFG_BAD;
	r->c->rt.stack.cc = i ? STACK_CC_NEWRENO : STACK_CC_CUBIC;
	return 0;
}

static int set_log_file(struct cfg_reader *r, const char *v)
{
	if (*v != '/') {
		cfg_err(r, "[log] file: '%s' is not an absolute path", v);
		return CFG_REPORTED;
	}
	snprintf(log_path, sizeof(log_path), "%s", v);
	return 0;
}

static int set_log_level(struct cfg_reader *r, const char *v)
{
	int l = log_parse_level(v);
	(void)r;
	if (l < 0)
		return CFG_BAD;
	if (!getenv("DEMI_LOG"))
		log_level = l;
	return 0;
}

static int set_listen_key(struct cfg_reader *r, const char *v)
{
	return set_listen(r, v) ? 0 : CFG_REPORTED;
}

static int set_connect_key(struct cfg_reader *r, const char *v)
{
	return set_connect(r, v) ? 0 : CFG_REPORTED;
}

/* In the order of the sample configs: a new key is one row and one setter. */
static const struct cfg_key {
	const char *sec, *key;
	int (*set)(struct cfg_reader *r, const char *v);
	const char *hint; /* what a good value looks like, for CFG_BAD */
} cfg_keys[] = {
	{"dpdk", "device", set_device, NULL},
	{"dpdk", "eal_args", set_eal_args, NULL},
	{"dpdk", "mbufs", set_mbufs, "1024-16777216"},
	{"dpdk", "spin_us", set_spin_us, "microseconds"},
	{"net", "address", set_address, "a.b.c.d/len"},
	{"net", "gateway", set_gateway, "a.b.c.d"},
	{"net", "address6", set_address6, "IPv6 address/len, len 1-128"},
	{"net", "gateway6", set_gateway6, "an IPv6 address"},
	{"net", "mtu", set_mtu, "576-9000"},
	{"bypass", "listen", set_listen_key, NULL},
	{"bypass", "connect", set_connect_key, NULL},
	{"bypass", "udp", set_udp, "yes or no"},
	{"fallback", "on_error", set_on_error, "kernel or fail"},
	{"tcp", "congestion", set_congestion, "cubic or newreno"},
	{"log", "file", set_log_file, NULL},
	{"log", "level", set_log_level, "error, warn, info or debug"},
};

/* A key no row names: unknown key of a known section, a key before any
 * section, or an unknown section (reported once, at its own line). */
static void cfg_unknown(struct cfg_reader *r, const char *sec, const char *key)
{
	int known = 0;
	for (unsigned i = 0; i < sizeof(cfg_keys) / sizeof(cfg_keys[0]); i++)
		known |= !strcasecmp(sec, cfg_keys[i].sec);
	if (known)
		cfg_err(r, "unknown key '%s' in [%s]", key, sec);
	else if (!*sec)
		cfg_err(r, "key '%s' outside any section", key);
	else if (r->sec_reported != r->sec_line) {
		int line = r->line;
		r->line = r->sec_line;
		r->sec_reported = r->sec_line;
		cfg_err(r, "unknown section [%s]", sec);
		r->line = line;
	} else {
		r->errors++;
	}
}

static int cfg_key(struct cfg_reader *r, const char *sec, const char *key, const char *v)
{
	for (unsigned i = 0; i < sizeof(cfg_keys) / sizeof(cfg_keys[0]); i++) {
		const struct cfg_key *k = &cfg_keys[i];
		int rc;
		if (strcasecmp(sec, k->sec) || strcasecmp(key, k->key))
			continue;
		rc = k->set(r, v);
		if (rc == CFG_BAD)
			cfg_err(r, "[%s] %s: bad value '%s' (%s)", k->sec, k->key, v, k->hint);
		return rc == 0;
	}
	cfg_unknown(r, sec, key);
	return 0;
}

static int cfg_handler(void *user, const char *sec, const char *key, const char *v)
{
	return cfg_key(user, sec, key, v);
}

static int cfg_said; /* the error said what follows from it: no summary line */

int cfg_parse_file(struct shim_cfg *c, const char *path)
{
	struct cfg_reader r = {.path = path, .c = c};
	int rc;

	memset(c, 0, sizeof(*c));
	c->udp = 1;
	snprintf(c->path, sizeof(c->path), "%s", path);
	r.f = fopen(path, "re");
	if (!r.f) {
		log_error("%s: cannot read: %s", path, strerror(errno));
		c->broken = 1;
		return -1;
	}
	rc = ini_parse_stream(cfg_read_line, &r, cfg_handler, &r);
	fclose(r.f);
	if (rc > 0 && r.errors == 0) {
		/* a syntax error inih found itself (no '=' or ']') */
		r.line = rc;
		cfg_err(&r, "syntax error (expected [section] or key = value)");
	}
	check_gateway6(&r);
	if (r.errors == 0 && r.has_rules && !r.has_device) {
		r.line = 0;
		log_error("%s: [dpdk] device is required when [bypass] names ports or destinations", path);
		r.errors++;
	}
	if (r.errors == 0 && r.has_rules && !r.has_address) {
		/* a device shared with the kernel (xdp:IF) has the kernel's address */
		unsigned plen = 0;
		char why[160];
		int drc = demi_dev_default_addr(c->rt.device, &c->rt.stack.addr, &plen, why, sizeof(why));
		if (drc == 0) {
			c->rt.stack.prefix_len = (uint8_t)plen;
			r.has_address = 1;
		} else if (drc == -ENODEV) {
			/* the device's own one line, as when it fails to start */
			log_error("%s: device '%s': %s; %s", path, c->rt.device, why, c->on_error_fail ?
				  "AF_INET sockets will fail (on_error = fail)" : "every socket stays with the kernel");
			cfg_said = 1;
			r.errors++;
		} else if (drc != -ENOTSUP) {
			log_error("%s: [net] address: none given and %s", path, why);
			r.errors++;
		}
	}
	if (r.errors == 0 && r.has_rules && !r.has_address) {
		log_error("%s: [net] address is required when [bypass] names ports or destinations", path);
		r.errors++;
	}
	if (r.errors) {
		c->broken = 1;
		c->active = 0;
		return -1;
	}
	c->active = r.has_rules;
	return 0;
}

int cfg_listen_port(uint16_t port)
{
	return cfg.listen_all || (cfg.listen_ports[port / 8] >> (port % 8) & 1);
}

int cfg_connect_addr(uint32_t a)
{
	if ((a >> 24) == 127 || a == 0 || a == INADDR_BROADCAST || (a >> 28) == 14)
		return 0; /* loopback, unspecified, broadcast, multicast */
	if (cfg.connect_all)
		return 1;
	for (int i = 0; i < cfg.nconnect; i++)
		if ((a & cfg.connect[i].mask) == cfg.connect[i].net)
			return 1;
	return 0;
}

/* a's first len bits are net's */
static int in6_prefix_has(const struct in6_addr *net, unsigned len, const struct in6_addr *a)
{
	unsigned n = len / 8, rem = len % 8;
	return !memcmp(net->s6_addr, a->s6_addr, n) &&
	       (!rem || !((net->s6_addr[n] ^ a->s6_addr[n]) & (0xff00u >> rem)));
}

int cfg_stack_addr6(const struct in6_addr *a)
{
	return !IN6_IS_ADDR_UNSPECIFIED(&cfg.rt.stack.addr6) && !memcmp(a, &cfg.rt.stack.addr6, 16);
}

int cfg_connect_addr6(const struct in6_addr *a)
{
	if (IN6_IS_ADDR_V4MAPPED(a)) {
		uint32_t v4;
		memcpy(&v4, &a->s6_addr[12], 4);
		return cfg_connect_addr(ntohl(v4));
	}
	if (IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_MULTICAST(a) ||
	    IN6_IS_ADDR_LINKLOCAL(a) || IN6_IS_ADDR_V4COMPAT(a))
		return 0; /* link-local: which interface is the kernel's business */
	if (IN6_IS_ADDR_UNSPECIFIED(&cfg.rt.stack.addr6))
		return 0; /* no address6: the stack speaks no IPv6 */
	if (cfg.connect_all)
		return 1;
	for (int i = 0; i < cfg.nconnect6; i++)
		if (in6_prefix_has(&cfg.connect6[i].net, cfg.connect6[i].len, a))
			return 1;
	/* on the stack's own link: the kernel cannot reach it through the device */
	return in6_prefix_has(&cfg.rt.stack.addr6, cfg.rt.stack.prefix6_len, a) && !cfg_stack_addr6(a);
}

/* One line at start (level info): the file in use, what the stack will be,
 * the bypass rules, and every setting that differs from its default. */
static void cfg_banner(const char *path)
{
	char b[1024], a[INET_ADDRSTRLEN];
	size_t n = 0;
#define ADD(...) (n += (size_t)snprintf(b + n, n < sizeof(b) ? sizeof(b) - n : 0, __VA_ARGS__))
	inet_ntop(AF_INET, &cfg.rt.stack.addr, a, sizeof(a));
	ADD("%s: device %s, address %s/%u; bypass listen", path, cfg.rt.device, a, cfg.rt.stack.prefix_len);
	if (cfg.listen_all) {
		ADD(" *");
	} else {
		int any = 0;
		for (unsigned port = 1; port < 65536 && n < sizeof(b); port++)
			if (cfg_listen_port((uint16_t)port))
				ADD(" %u", port), any = 1;
		if (!any)
			ADD(" (none)");
	}
	ADD(", connect");
	if (cfg.connect_all)
		ADD(" *");
	for (int i = 0; i < cfg.nconnect && n < sizeof(b); i++) {
		struct in_addr na = { htonl(cfg.connect[i].net) };
		inet_ntop(AF_INET, &na, a, sizeof(a));
		ADD(" %s/%d", a, __builtin_popcount(cfg.connect[i].mask));
	}
	for (int i = 0; i < cfg.nconnect6 && n < sizeof(b); i++) {
		char a6[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &cfg.connect6[i].net, a6, sizeof(a6));
		ADD(" %s/%u", a6, cfg.connect6[i].len);
	}
	if (!cfg.connect_all && !cfg.nconnect && !cfg.nconnect6)
		ADD(" (none)");
	if (cfg.rt.stack.gateway.s_addr) {
		inet_ntop(AF_INET, &cfg.rt.stack.gateway, a, sizeof(a));
		ADD(", gateway %s", a);
	}
	if (!IN6_IS_ADDR_UNSPECIFIED(&cfg.rt.stack.addr6)) {
		char a6[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &cfg.rt.stack.addr6, a6, sizeof(a6));
		ADD(", address6 %s/%u", a6, cfg.rt.stack.prefix6_len);
		if (!IN6_IS_ADDR_UNSPECIFIED(&cfg.rt.stack.gateway6)) {
			inet_ntop(AF_INET6, &cfg.rt.stack.gateway6, a6, sizeof(a6));
			ADD(", gateway6 %s", a6);
		}
	}
	if (cfg.rt.stack.mtu && cfg.rt.stack.mtu != 1500)
		ADD(", mtu %u", cfg.rt.stack.mtu);
	if (!cfg.udp)
		ADD(", udp no");
	if (cfg.on_error_fail)
		ADD(", on_error fail");
	if (cfg.rt.stack.cc == STACK_CC_NEWRENO)
		ADD(", congestion newreno");
	if (cfg.rt.eal_args[0])
		ADD(", eal_args '%s'", cfg.rt.eal_args);
	if (log_path[0])
		ADD(", log file %s", log_path);
#undef ADD
	log_info("%s", b);
}

void cfg_load(void)
{
	const char *env = getenv("DEMI_CONFIG");
	const char *lvl = getenv("DEMI_LOG");
	char path[PATH_MAX];
	int rc;

	if (lvl && log_parse_level(lvl) >= 0)
		log_level = log_parse_level(lvl);
	if (getenv("DEMI_DISABLE") && strcmp(getenv("DEMI_DISABLE"), "0") != 0) {
		log_debug("DEMI_DISABLE set: every socket stays with the kernel");
		return;
	}
	if (env && *env) {
		snprintf(path, sizeof(path), "%s", env);
	} else {
		snprintf(path, sizeof(path), "/etc/demi/%s.conf", program_invocation_short_name);
		if (access(path, R_OK) != 0) {
			snprintf(path, sizeof(path), "/etc/demi/demi.conf");
			if (access(path, R_OK) != 0)
				return; /* no config: all kernel, silently */
		}
	}
	rc = cfg_parse_file(&cfg, path);
	log_install(); /* [log] level and file are known now */
	if (rc != 0) {
		if (cfg_said)
			return;
		if (cfg.on_error_fail)
			log_error("%s: the configuration has errors: AF_INET sockets will fail (on_error = fail)", path);
		else
			log_error("%s: the configuration has errors: every socket stays with the kernel", path);
		return;
	}
	snprintf(cfg.rt.name, sizeof(cfg.rt.name), "%s", program_invocation_short_name);
	cfg.rt.cfg_pid = getpid(); /* the stack may be loaded and configured later, in a fork */
	if (!cfg.active) {
		log_info("%s: no [bypass] rules: every socket stays with the kernel", path);
		return;
	}
	if (rt_configure(&cfg.rt) != 0) {
		log_error("%s: the runtime refused the configuration: every socket stays with the kernel", path);
		cfg.active = 0;
		return;
	}
	cfg_banner(path);
}
