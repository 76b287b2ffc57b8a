#!/usr/bin/env bash
# [net] address6 and gateway6: a good pair is taken (the banner shows it); a
# bad one is an error naming file:line and what is wrong with the value
# (not an address, prefix 0 or beyond 128, no prefix, multicast, ::,
# loopback, v4-mapped, link-local as address6; a gateway6 off the link,
# multicast, or without address6; a bad IPv6 [bypass] connect prefix).
# Nothing starts: the program opens no socket.
. "$(dirname "$0")/../lib/net.sh"
need_cmd python3
need_lib
PY=$(python3 -c 'import sys; print(sys.executable)')
T=$(mktemp -d)
net_cleanup_add "rm -rf $T"

conf() { demi_conf "$T/c.conf" device=af_packet:dnodev0 address=198.18.203.2/24 listen=9 "$@"; }
run() { demi_run "$T/c.conf" DEMI_LOG=info "$PY" -c pass 2>&1; }

# good: the banner names both
conf net.address6=2001:db8:7::2/64 net.gateway6=fe80::1
out=$(run)
echo "$out" | grep -qi error && fail "good address6: $out"
echo "$out" | grep -qF "address6 2001:db8:7::2/64, gateway6 fe80::1" || fail "no address6 in the banner: $out"
conf net.address6=fd00:7::2/48 net.gateway6=fd00:7:0:1::1
out=$(run)
echo "$out" | grep -qi error && fail "gateway6 in the /48: $out"
echo "good: $(echo "$out" | grep -o 'address6 [^;]*')"

# bad: LINE|KEY=VALUE [KEY=VALUE]|expected message (after FILE:LINE: )
while IFS='|' read -r line kvs want; do
	# shellcheck disable=SC2086
	conf $kvs
	out=$(run)
	echo "$out" | grep -qE "$T/c.conf:$line: $want" || fail "$kvs: expected '$line: $want', got: $out"
	echo "$kvs: $(echo "$out" | grep -oE "c.conf:$line: .*" | head -1)"
done <<'CASES'
5|net.address6=2001:db8::zz/64|\[net\] address6: bad value '2001:db8::zz/64'
5|net.address6=2001:db8::2/129|\[net\] address6: bad value '2001:db8::2/129'
5|net.address6=2001:db8::2/0|\[net\] address6: bad value '2001:db8::2/0'
5|net.address6=2001:db8::2|\[net\] address6: bad value '2001:db8::2' \(IPv6 address/len, len 1-128\)
5|net.address6=198.18.0.2/24|\[net\] address6: bad value '198.18.0.2/24'
5|net.address6=ff02::1/64|\[net\] address6: 'ff02::1/64' is a multicast address
5|net.address6=::/64|\[net\] address6: '::/64' is the unspecified address
5|net.address6=::1/128|\[net\] address6: '::1/128' is the loopback address
5|net.address6=::ffff:198.18.0.2/96|\[net\] address6: '::ffff:198.18.0.2/96' is an IPv4-mapped address
5|net.address6=fe80::2/64|\[net\] address6: 'fe80::2/64' is link-local
6|net.address6=2001:db8::2/64 net.gateway6=2001:db8::/64|\[net\] gateway6: bad value '2001:db8::/64'
6|net.address6=2001:db8::2/64 net.gateway6=nope|\[net\] gateway6: bad value 'nope' \(an IPv6 address\)
6|net.address6=2001:db8::2/64 net.gateway6=ff02::2|\[net\] gateway6: 'ff02::2' is a multicast address
6|net.address6=2001:db8::2/64 net.gateway6=2001:db8:1::1|\[net\] gateway6: 2001:db8:1::1 is not on the link
6|net.address6=2001:db8::2/64 net.gateway6=2001:db8::2|\[net\] gateway6: the stack's own address6
5|net.gateway6=fe80::1|\[net\] gateway6 needs \[net\] address6
CASES
# [bypass] connect takes IPv6 prefixes beside IPv4 ones (the banner shows
# them); a bad one is an error naming file:line
conf connect="198.18.9.0/24 2001:db8:9::/48 fd00::1/8"
out=$(run)
echo "$out" | grep -qi error && fail "IPv6 connect prefixes: $out"
echo "$out" | grep -qF "connect 198.18.9.0/24 2001:db8:9::/48 fd00::/8" || fail "no IPv6 prefixes in the banner: $out"
echo "good: $(echo "$out" | grep -o 'connect [^,]*')"
for bad in 2001:db8::zz/48 2001:db8::/129 2001:db8::/x; do
	conf connect="$bad"
	out=$(run)
	echo "$out" | grep -qF "$T/c.conf:7: [bypass] connect: bad prefix '$bad'" || fail "connect=$bad: got: $out"
	echo "connect=$bad: $(echo "$out" | grep -o 'c.conf:7: .*' | head -1)"
done
echo "config6: address6/gateway6 and IPv6 connect prefix errors name file:line"
