#!/usr/bin/env bash
# Without any config, programs run unchanged under the preload and no DPDK
# starts: ls, bash -c, python3 -c sockets, curl against python3 -m
# http.server, and the servers nginx (master + worker) and redis-server,
# each fetched byte-exact through the kernel. "No DPDK" is shown for every
# server process: no EAL thread in /proc/PID/task/*/comm, no counters file
# /dev/shm/demi.PID.*, and no "on the stack" line in its log.
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd curl nginx redis-server redis-cli
[ -x "$PY" ] || skip "$PY missing"
need_lib
for f in /etc/demi/*.conf; do
	[ -e "$f" ] && skip "$f exists: this machine has a system-wide config"
done

ns=$(net_ns_new dnc) # loopback only; the kernel serves everything
T=$APPS_TMP
pre() { demi_run -n "$ns" "" "$@"; } # no config at all
no_dpdk() { # PID WHAT LOG
	local t
	for t in /proc/$1/task/*/comm; do
		grep -q "eal-" "$t" 2>/dev/null && fail "$2: an EAL thread runs ($(cat "$t"))"
	done
	ls /dev/shm/demi."$1".* >/dev/null 2>&1 && fail "$2: a stack started (/dev/shm/demi.$1.*)"
	[ -n "$3" ] && grep -q "on the stack" "$3" && fail "$2: put a socket on the stack"
	return 0
}

want=$(ls -la /usr/bin | sha256sum); got=$(pre ls -la /usr/bin | sha256sum)
[ "$want" = "$got" ] || fail "ls -la /usr/bin differs under the preload"
got=$(pre bash -c 'echo $((6 * 7)); exec 3<>/dev/tcp/127.0.0.1/9 2>/dev/null || echo refused' 2>/dev/null)
[ "$got" = "$(printf '42\nrefused')" ] || fail "bash -c gave '$got'"
got=$(pre $PY -c '
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4)
c = socket.create_connection(s.getsockname()); a, _ = s.accept()
c.sendall(b"ping" * 1000); d = b""
while len(d) < 4000: d += a.recv(4000)
a.sendall(d[::-1]); e = b""
while len(e) < 4000: e += c.recv(4000)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"dgram", u.getsockname())
print(d == b"ping" * 1000, e == (b"ping" * 1000)[::-1], u.recv(10).decode())
' 2>"$T/py.err")
[ "$got" = "True True dgram" ] || { cat "$T/py.err"; fail "python3 sockets gave '$got'"; }
echo "ls, bash -c, python3 sockets (TCP both ways, UDP): unchanged"

mkdir -p "$T/www" "$T/logs"
head -c 300000 /dev/urandom >"$T/www/f.bin"
chmod 0755 "$T/www" "$T/logs"; chmod 0644 "$T/www/f.bin"
pre $PY -m http.server 8000 --bind 127.0.0.1 --directory "$T/www" >"$T/http.log" 2>&1 &
http=$!; net_kill_at_exit $http
net_wait_tcp "$ns" 127.0.0.1 8000 20 || { apps_logs "$T/http.log"; fail "http.server did not listen"; }
pre curl -sS --max-time 10 -o "$T/got.http" http://127.0.0.1:8000/f.bin || fail "curl from http.server"
cmp "$T/www/f.bin" "$T/got.http" || fail "http.server's file differs"
for p in $(ip netns pids "$ns"); do no_dpdk "$p" "http.server ($p)" "$T/http.log"; done
echo "python3 -m http.server + curl: byte-exact, no DPDK"

apps_nginx_conf "$T" "$T/www" 127.0.0.1:8080 "sendfile on"
# DEMI_LOG=info: "on the stack" is an info line, which the default level
# (warn) would hide whatever happened
pre DEMI_LOG=info nginx -p "$T" -c "$T/nginx.conf" >"$T/logs/stdout" 2>&1 &
net_kill_at_exit $!
net_cleanup_add "pkill -9 -f 'nginx.*$T'"
net_wait_tcp "$ns" 127.0.0.1 8080 20 || { apps_logs "$T/logs/"*; fail "nginx did not listen"; }
pre curl -sS --max-time 10 -o "$T/got.nginx" http://127.0.0.1:8080/f.bin || fail "curl from nginx"
cmp "$T/www/f.bin" "$T/got.nginx" || fail "nginx's file differs"
pre DEMI_LOG=info redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --dir "$T" >"$T/redis.log" 2>&1 &
net_kill_at_exit $!
net_wait_tcp "$ns" 127.0.0.1 6379 20 || { apps_logs "$T/redis.log"; fail "redis did not listen"; }
v=$(head -c 600 /dev/urandom | base64 -w 0)
[ "$(pre redis-cli set k "$v")" = OK ] || fail "redis set"
[ "$(pre redis-cli get k)" = "$v" ] || fail "redis get gave another value"
n=0
for p in $(ip netns pids "$ns"); do
	no_dpdk "$p" "$(tr '\0' ' ' </proc/$p/cmdline 2>/dev/null | cut -c1-40) ($p)" "$T/logs/error.log"
	n=$((n + 1))
done
grep -q "on the stack" "$T/redis.log" "$T/logs/stdout" "$T/logs/error.log" && fail "a server put a socket on the stack"
echo "nginx (master + worker) and redis-server: byte-exact through the kernel; no DPDK in any of $n processes"
