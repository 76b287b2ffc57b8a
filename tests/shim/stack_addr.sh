#!/usr/bin/env bash
# Sockets bound to the stack's own address, which the kernel does not have:
# a listener on 198.18.15.2:7000 (a [bypass] listen port) and a client bound
# to 198.18.15.2:0 connecting to a destination no rule names. Both can only
# work through the stack, and do; getsockname reports the stack's address.
. "$(dirname "$0")/../lib/shim.sh"
need_root
need_lib
PY=/usr/bin/python3
[ -x $PY ] || skip "/usr/bin/python3 missing"
ns=$(net_ns_new dsa)
tap=$(net_tag dsat)
demi_conf "$SHIM_TMP/sa.conf" device="tap:$tap" address=198.18.15.2/24 listen=7000 level=info
demi_pre -n "$ns" "$SHIM_TMP/sa.conf"
"${DEMI_PRE[@]}" $PY -c '
import socket
s = socket.socket(); s.bind(("198.18.15.2", 7000)); print("bound", s.getsockname(), flush=True); s.listen(4)
c, a = s.accept(); print("accepted from", a[0], flush=True); print("got", c.recv(10).decode(), flush=True); c.sendall(b"pong")
u = socket.socket(); u.bind(("198.18.15.2", 0)); u.connect(("198.18.15.1", 7001))
u.sendall(b"from-stack-addr"); print("client name", u.getsockname()[0], flush=True); u.close()
' >"$SHIM_TMP/out" 2>"$SHIM_TMP/err" &
pid=$!
net_kill_at_exit $pid
net_tap_attach "$ns" "$tap" 198.18.15.1/24 || { cat "$SHIM_TMP/out" "$SHIM_TMP/err"; fail "tap $tap never appeared"; }
peer=$(ip netns exec "$ns" timeout 20 $PY -c '
import socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); l.bind(("0.0.0.0", 7001)); l.listen(1)
s = socket.create_connection(("198.18.15.2", 7000), timeout=10); s.sendall(b"ping"); print("peer got", s.recv(10).decode())
l.settimeout(10); c, a = l.accept(); print("peer accepted from", a[0], c.recv(100).decode())') || { cat "$SHIM_TMP/err"; fail "peer: $peer"; }
wait $pid || { cat "$SHIM_TMP/out" "$SHIM_TMP/err"; fail "program exit"; }
want="bound ('198.18.15.2', 7000)
accepted from 198.18.15.1
got ping
client name 198.18.15.2"
[ "$(cat "$SHIM_TMP/out")" = "$want" ] || { cat "$SHIM_TMP/out" "$SHIM_TMP/err"; fail "program saw something else"; }
[ "$peer" = "peer got pong
peer accepted from 198.18.15.2 from-stack-addr" ] || fail "peer saw: $peer"
grep -q "bound to the stack's address" "$SHIM_TMP/err" || { cat "$SHIM_TMP/err"; fail "no decision logged for the client"; }
echo "listener and client on the stack's own address work through the stack"
