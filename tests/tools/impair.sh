#!/usr/bin/env bash
# build/impair, the netem stand-in: two kernel hosts in namespaces joined
# through the relay with 5% loss, 25% reordering, 1% duplication and 0.1%
# corruption. A 16 MiB HTTP download must arrive byte-exact and the relay's
# statistics must show each fault applied.
. "$(dirname "$0")/../lib/net.sh"
need_root
need_cmd python3 curl sha256sum ethtool
[ -x "$DEMI_TOP/build/impair" ] || fail "build/impair not built"

nsa=$(net_ns_new ia); nsb=$(net_ns_new ib); nsr=$(net_ns_new ir)
tmp=$(mktemp -d /tmp/demi-impair.XXXXXX)
net_cleanup_add "rm -rf $tmp"
ip link add ia0 netns "$nsa" type veth peer name ra0 netns "$nsr" || fail "veth a"
ip link add ib0 netns "$nsb" type veth peer name rb0 netns "$nsr" || fail "veth b"
for x in "$nsa ia0 198.18.9.1" "$nsb ib0 198.18.9.2"; do
	set -- $x
	net_no_offload "$1" "$2"
	ip -n "$1" addr add "$3/24" dev "$2"
	ip -n "$1" link set "$2" up
done
IMPAIR_LOG=$tmp/impair.log
net_impair_start "$nsr" ra0 rb0 -l 5 -r 25 -d 1 -c 0.1 -D 1000 -s 42

head -c $((16 << 20)) /dev/urandom >"$tmp/blob"
(cd "$tmp" && exec ip netns exec "$nsb" python3 -m http.server --bind 198.18.9.2 8000) >"$tmp/http.log" 2>&1 &
net_kill_at_exit $!
net_wait_tcp "$nsa" 198.18.9.2 8000 20 || fail "server unreachable through the relay"
ip netns exec "$nsa" curl -sS --max-time 120 -o "$tmp/got" http://198.18.9.2:8000/blob || fail "download"
[ "$(sha256sum <"$tmp/blob")" = "$(sha256sum <"$tmp/got")" ] || fail "download differs"

kill -TERM "$IMPAIR_PID"; wait "$IMPAIR_PID" 2>/dev/null
cat "$IMPAIR_LOG"
for what in lost reordered duplicated corrupted; do
	n=$(awk -v w="$what" '/->/ { for (i = 1; i < NF; i++) if ($i == w) s += $(i + 1) } END { print s + 0 }' "$IMPAIR_LOG")
	[ "$n" -gt 0 ] || fail "relay applied no '$what' fault"
done
echo "impair: 16 MiB byte-exact across loss, reordering, duplication and corruption"
