/* Placeholder until UDP lands: datagrams are dropped, sockets refused. */
#include <errno.h>

#include "net.h"
#include "sock.h"

int udp_init(struct stack *st) { (void)st; return 0; }
void udp_fini(struct stack *st) { (void)st; }
void udp_input(struct stack *st, struct pbuf *p, const struct ipv4_meta *m) { (void)st; (void)m; pbuf_free(p); }
void udp_foreach(struct stack *st, void (*fn)(const struct sock_info *, void *), void *arg) { (void)st; (void)fn; (void)arg; }
int udp_sock_create(struct stack *st, struct sock **out) { (void)st; (void)out; return -EPROTONOSUPPORT; }
