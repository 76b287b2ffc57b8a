#!/usr/bin/env bash
# A broken config under real servers: the error names file:line (or the
# file, for a missing key) and, with on_error = kernel, nginx (master +
# worker) and redis-server still serve through the kernel, byte-exact.
# Cases: an unknown key, a bad address, a device the driver would refuse
# (named by the driver's own grammar), no [dpdk] device, and a device that
# cannot start (an af_packet interface that does not exist).
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd curl nginx redis-server redis-cli
need_lib

ns=$(net_ns_new dbc)
T=$APPS_TMP
mkdir -p "$T/www"
head -c 100000 /dev/urandom >"$T/www/f.bin"
chmod 0755 "$T/www"; chmod 0644 "$T/www/f.bin"
net_cleanup_add "pkill -9 -f 'nginx.*$T'"
ex() { ip netns exec "$ns" "$@"; }

# nginx_case NAME REGEX CONF-BODY: nginx under the config must log REGEX
# (master's stderr or the worker's, which is error.log) and serve f.bin
nginx_case() {
	local name=$1 want=$2 d=$T/$(echo "$1" | tr ' ' _)
	mkdir -p "$d/logs"; chmod 0755 "$d" "$d/logs"
	printf '%s\n' "$3" >"$d/demi.conf"
	apps_nginx_conf "$d" "$T/www" 8080
	demi_run -n "$ns" "$d/demi.conf" nginx -p "$d" -c "$d/nginx.conf" >"$d/logs/stderr" 2>&1 &
	local pid=$!
	net_kill_at_exit $pid
	net_wait_tcp "$ns" 127.0.0.1 8080 20 || { apps_logs "$d/logs/"*; fail "$name: nginx does not serve"; }
	ex curl -sS --max-time 10 -o "$d/got" http://127.0.0.1:8080/f.bin || { apps_logs "$d/logs/"*; fail "$name: curl"; }
	cmp "$T/www/f.bin" "$d/got" || fail "$name: nginx's file differs"
	grep -qE "$want" "$d/logs/stderr" "$d/logs/error.log" || { apps_logs "$d/logs/"*; fail "$name: no /$want/ in nginx's logs"; }
	echo "nginx, $name: served byte-exact; $(cat "$d/logs/stderr" "$d/logs/error.log" | grep -E "$want" | head -1 | sed 's/.*libdemi/libdemi/')"
	nginx -p "$d" -c "$d/nginx.conf" -s stop
	wait $pid
}

# each case a good config with one thing changed (line numbers as written by demi_conf)
nginx_case "unknown key" "$T/unknown_key/demi.conf:4: unknown key 'adress' in \[net\]" \
	"$(demi_conf - device=af_packet:dnodev0 net.adress=198.18.203.2/24 listen=8080 on_error=kernel)"
nginx_case "bad address" "$T/bad_address/demi.conf:4: \[net\] address: bad value '198.18.203.300/24'" \
	"$(demi_conf - device=af_packet:dnodev0 address=198.18.203.300/24 listen=8080 on_error=kernel)"
nginx_case "memif without a role" "$T/memif_without_a_role/demi.conf:2: \[dpdk\] device: bad value 'memif:$T/m.sock': memif needs role=server or role=client" \
	"$(demi_conf - device=memif:$T/m.sock address=198.18.203.2/24 listen=8080 on_error=kernel)"
nginx_case "missing device" "$T/missing_device/demi.conf: \[dpdk\] device is required" \
	"$(demi_conf - address=198.18.203.2/24 listen=8080 on_error=kernel)"
nginx_case "device that cannot start" "stack unavailable: .*dnodev0.*every socket stays with the kernel" \
	"$(demi_conf - device=af_packet:dnodev0 address=198.18.203.2/24 listen=8080 on_error=kernel)"

# redis-server, an unknown key and then a device that cannot start
for c in "unknown key|:2: unknown key 'devise' in \[dpdk\]|devise" "device that cannot start|stack unavailable: .*dnodev1|device"; do
	IFS='|' read -r name want key <<<"$c"
	demi_conf "$T/redis.conf" "dpdk.$key=af_packet:dnodev1" address=198.18.203.2/24 listen=6379 on_error=kernel
	demi_run -n "$ns" "$T/redis.conf" redis-server --port 6379 --bind 0.0.0.0 --save '' --appendonly no \
		--dir "$T" >"$T/redis.log" 2>&1 &
	pid=$!
	net_kill_at_exit $pid
	net_wait_tcp "$ns" 127.0.0.1 6379 20 || { apps_logs "$T/redis.log"; fail "redis, $name: does not serve"; }
	v=$(head -c 900 /dev/urandom | base64 -w 0)
	[ "$(ex redis-cli set k "$v")" = OK ] || fail "redis, $name: set"
	[ "$(ex redis-cli get k)" = "$v" ] || fail "redis, $name: get gave another value"
	grep -qE "$want" "$T/redis.log" || { apps_logs "$T/redis.log"; fail "redis, $name: no /$want/ in its log"; }
	echo "redis, $name: served; $(grep -E "$want" "$T/redis.log" | head -1)"
	ex redis-cli shutdown nosave >/dev/null 2>&1; wait $pid
done
