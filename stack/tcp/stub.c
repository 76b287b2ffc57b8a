/* Placeholder until the TCP implementation lands: TCP segments are dropped. */
#include <errno.h>

#include "../net.h"
#include "../sock.h"

int tcp_init(struct stack *st) { (void)st; return 0; }
void tcp_fini(struct stack *st) { (void)st; }
void tcp_input(struct stack *st, struct pbuf *p, const struct ipv4_meta *m) { (void)st; (void)m; pbuf_free(p); }
void tcp_icmp_error(struct stack *st, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, int err)
{ (void)st; (void)src; (void)dst; (void)sport; (void)dport; (void)err; }
void tcp_foreach(struct stack *st, void (*fn)(const struct sock_info *, void *), void *arg) { (void)st; (void)fn; (void)arg; }
int tcp_sock_create(struct stack *st, struct sock **out) { (void)st; (void)out; return -EPROTONOSUPPORT; }
