#!/usr/bin/env bash
# make demo: unmodified nginx under libdemi on a tap device, side by side with
# the same nginx on the kernel.
#
#   client namespace ── tap ──► nginx under libdemi (198.18.20.2, our stack)
#                    └─ veth ─► nginx on the kernel (198.18.21.2, another namespace)
#
# curl fetches a page through our stack, then wrk measures both servers for a
# few seconds each and a table compares them. The tap costs the same system
# calls for both servers, so that table shows correctness, not speed. A second
# table shows the speed: wrk and nginx both under libdemi, joined by memif
# (shared memory, no kernel between them), against both on the kernel's
# loopback, each pair pinned to the same two cores. Everything made here
# (namespaces, devices, processes, files) is removed at the end, also on Ctrl-C.
#   tools/demo.sh [-d SECONDS]
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
lib=$top/build/libdemi.so
secs=5
while getopts d: o; do
	case $o in
	d) secs=$OPTARG ;;
	*) echo "usage: tools/demo.sh [-d SECONDS]" >&2; exit 2 ;;
	esac
done

say() { printf '\033[1mdemo:\033[0m %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root: it makes network namespaces and a tap device"
[ -f "$lib" ] || die "build/libdemi.so is not built (run make)"
for c in nginx curl wrk ip taskset; do command -v $c >/dev/null || die "$c is missing (make deps installs it)"; done

tag=$(printf '%x' $(( ($$ + RANDOM) & 0xffff )))
nsc=demoC$tag nss=demoS$tag tap=demotap$tag
tmp=$(mktemp -d /tmp/demi-demo.XXXXXX)
pids=()
cleanup() {
	trap - EXIT INT TERM
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	# a stack drains its connections at exit (at most 3 s)
	for i in $(seq 40); do
		alive=0
		for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	pkill -KILL -f "nginx.*$tmp" 2>/dev/null
	for ns in "$nsc" "$nss"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo; say "interrupted, cleaning up"; exit 130' INT TERM

ip netns add "$nsc" && ip netns add "$nss" || die "cannot make network namespaces"
ip -n "$nsc" link set lo up; ip -n "$nss" link set lo up
# a vanished device must not send the benchmarking range out by the host's default route
ip route replace blackhole 198.18.0.0/15 || die "cannot add the blackhole route"
ip link add c0 netns "$nsc" type veth peer name s0 netns "$nss" || die "cannot make a veth pair"
ip -n "$nsc" addr add 198.18.21.1/24 dev c0; ip -n "$nsc" link set c0 up
ip -n "$nss" addr add 198.18.21.2/24 dev s0; ip -n "$nss" link set s0 up

mkdir -p "$tmp/www" "$tmp/demi" "$tmp/kern" "$tmp/mdemi" "$tmp/lo"
chmod 0755 "$tmp" "$tmp/www" # nginx's workers run as an unprivileged user
printf '<!doctype html><title>libdemi</title><p>Served by nginx over libdemi.</p>\n' >"$tmp/www/index.html"
cat >"$tmp/demi.conf" <<CONF
[dpdk]
device = tap:$tap
[net]
address = 198.18.20.2/24
[bypass]
listen = 8080
[fallback]
on_error = fail
CONF
for side in demi kern mdemi lo; do
	port=8080; [ $side = mdemi ] && port=8081; [ $side = lo ] && port=8082
	cat >"$tmp/$side/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes 1;
pid $tmp/$side/nginx.pid;
error_log $tmp/$side/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	keepalive_requests 1000000;
	server { listen $port; root $tmp/www; }
}
CONF
done

say "starting nginx under libdemi (tap:$tap, 198.18.20.2) and on the kernel (198.18.21.2)"
ip netns exec "$nsc" env LD_PRELOAD="$lib" DEMI_CONFIG="$tmp/demi.conf" \
	nginx -p "$tmp/demi" -c "$tmp/demi/nginx.conf" >"$tmp/demi/stdout" 2>&1 &
pids+=($!)
ip netns exec "$nss" nginx -p "$tmp/kern" -c "$tmp/kern/nginx.conf" >"$tmp/kern/stdout" 2>&1 &
pids+=($!)

for i in $(seq 200); do ip -n "$nsc" link show "$tap" >/dev/null 2>&1 && break; sleep 0.1; done
ip -n "$nsc" link show "$tap" >/dev/null 2>&1 || { cat "$tmp/demi/"*; die "the tap device never appeared"; }
ip -n "$nsc" addr add 198.18.20.1/24 dev "$tap"; ip -n "$nsc" link set "$tap" up

fetch() { ip netns exec "$nsc" curl -sS --max-time 5 "$@"; }
for i in $(seq 100); do fetch -o /dev/null "http://198.18.20.2:8080/" 2>/dev/null && break; sleep 0.1; done
page=$(fetch "http://198.18.20.2:8080/") || { cat "$tmp/demi/"*; die "curl through libdemi failed"; }
say "curl http://198.18.20.2:8080/ through libdemi's stack:"
printf '    %s\n' "$page"
fetch -o /dev/null "http://198.18.21.2:8080/" || die "curl to the kernel nginx failed"

bench() { # name url
	ip netns exec "$nsc" wrk -t1 -c32 -d"${secs}s" --latency "$2" >"$tmp/wrk.$1" 2>&1 || { cat "$tmp/wrk.$1"; die "wrk against $1 failed"; }
}
ms() { # wrk latency ("512.00us", "1.20ms", "2.00s") in milliseconds
	awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}
row() { # label name
	local f=$tmp/wrk.$2 rps p50 p99
	rps=$(awk '/^Requests\/sec/ { printf "%.0f", $2 }' "$f")
	p50=$(awk '$1 == "50%" { print $2 }' "$f"); p99=$(awk '$1 == "99%" { print $2 }' "$f")
	printf '| %-8s | %10s | %9s | %9s |\n' "$1" "${rps:-?}" "$(ms "${p50:-0}")" "$(ms "${p99:-0}")"
}
say "wrk -t1 -c32 for ${secs}s against each"
bench kernel "http://198.18.21.2:8080/"
bench libdemi "http://198.18.20.2:8080/"
echo
printf '| %-8s | %10s | %9s | %9s |\n' server "req/s" "p50 ms" "p99 ms"
printf '|----------|------------|-----------|-----------|\n'
row kernel kernel
row libdemi libdemi
say "both servers sit behind a device that costs the kernel the same work: this shows"
say "libdemi serving a kernel client correctly, not how fast it is"
echo

# Both ends under libdemi over memif, against both ends on the kernel's loopback.
for role in server client; do
	ip=198.18.22.1; [ $role = client ] && ip=198.18.22.2
	cat >"$tmp/memif-$role.conf" <<CONF
[dpdk]
device = memif:$tmp/memif.sock,role=$role
[net]
address = $ip/24
[bypass]
listen = 8081
connect = 198.18.22.0/24
[fallback]
on_error = fail
CONF
done
ip netns exec "$nss" env LD_PRELOAD="$lib" DEMI_CONFIG="$tmp/memif-server.conf" \
	taskset -c 1 nginx -p "$tmp/mdemi" -c "$tmp/mdemi/nginx.conf" >"$tmp/mdemi/stdout" 2>&1 &
pids+=($!)
ip netns exec "$nss" taskset -c 1 nginx -p "$tmp/lo" -c "$tmp/lo/nginx.conf" >"$tmp/lo/stdout" 2>&1 &
pids+=($!)
for i in $(seq 100); do [ -S "$tmp/memif.sock" ] && break; sleep 0.1; done
[ -S "$tmp/memif.sock" ] || { cat "$tmp/mdemi/"*; die "nginx under libdemi never opened its memif socket"; }
for i in $(seq 100); do ip netns exec "$nss" curl -s -o /dev/null --max-time 1 http://127.0.0.1:8082/ && break; sleep 0.1; done
bench2() { # name url [env...]
	local name=$1 url=$2; shift 2
	ip netns exec "$nss" env "$@" taskset -c 0 wrk -t1 -c32 -d"${secs}s" --latency "$url" \
		>"$tmp/wrk.$name" 2>&1 || { cat "$tmp/wrk.$name"; die "wrk against $name failed"; }
	grep -q "Socket errors\|Non-2xx" "$tmp/wrk.$name" && { cat "$tmp/wrk.$name"; die "wrk against $name had errors"; }
	return 0
}
say "wrk -t1 -c32 for ${secs}s: both ends on the kernel's loopback, then both under libdemi over memif"
bench2 loopback "http://127.0.0.1:8082/"
bench2 memif "http://198.18.22.1:8081/" LD_PRELOAD="$lib" DEMI_CONFIG="$tmp/memif-client.conf"
echo
printf '| %-8s | %10s | %9s | %9s |\n' ends "req/s" "p50 ms" "p99 ms"
printf '|----------|------------|-----------|-----------|\n'
row kernel loopback
row libdemi memif
ratio=$(awk '/^Requests\/sec/ { print $2 }' "$tmp/wrk.memif" "$tmp/wrk.loopback" | paste -sd' ' | awk '$2 > 0 { printf "%.2f", $1 / $2 }')
say "client and server both in user space, no system call between them: ${ratio:-?}x the kernel's requests/s"
say "(198.18.22.x exists only on the memif link and on_error = fail: a request that did not"
say " go through both stacks fails instead of reaching the kernel)"
echo
say "done; removing the namespaces, devices and processes it made"
