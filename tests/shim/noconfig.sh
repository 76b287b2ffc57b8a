#!/usr/bin/env bash
# Without a config (and with DEMI_DISABLE=1, and with rules that match
# nothing) ordinary programs run unchanged under the preload and no DPDK
# starts: ls, bash, python3 sockets, curl against python3 -m http.server.
# "No DPDK" is shown by the absence of EAL's thread, of the counters file
# the runtime makes when it starts, and of any "on the stack" log line.
. "$(dirname "$0")/../lib/shim.sh"
need_lib
need_cmd curl
PY=/usr/bin/python3
[ -x $PY ] || skip "/usr/bin/python3 missing"
for f in /etc/demi/ls.conf /etc/demi/bash.conf /etc/demi/python3.conf /etc/demi/curl.conf /etc/demi/demi.conf; do
	[ -e "$f" ] && skip "$f exists: this machine has a system-wide config"
done
shim_write_configs
demi_conf "$SHIM_TMP/disabled.conf" device=af_packet:dnodev$$ address=198.18.202.2/24 listen="*"

port=$((10000 + $$ % 20000)) # below the ephemeral range
mkdir -p "$SHIM_TMP/www"
echo "served $$" >"$SHIM_TMP/www/index.html"

no_dpdk() { # pid what
	local t
	for t in /proc/$1/task/*/comm; do
		grep -q "eal-" "$t" 2>/dev/null && fail "$2: an EAL thread runs ($(cat "$t"))"
	done
	ls /dev/shm/demi.$1.[0-9]* >/dev/null 2>&1 && fail "$2: a stack started (counters file /dev/shm/demi.$1.N)"
	return 0
}

run_mode() { # name [conf [VAR=VALUE...]]
	local name=$1 conf=${2:-}; shift; [ $# -eq 0 ] || shift
	demi_pre "$conf"
	local pre=("${DEMI_PRE[@]}" DEMI_LOG=debug "$@")
	local want got
	want=$(ls -la /usr /etc/apt 2>&1); got=$("${pre[@]}" ls -la /usr /etc/apt 2>/dev/null)
	[ "$want" = "$got" ] || fail "$name: ls -la differs"
	got=$("${pre[@]}" bash -c 'echo $((6 * 7)); exec 3<>/dev/tcp/127.0.0.1/1 2>/dev/null || echo refused' 2>/dev/null)
	[ "$got" = "$(printf '42\nrefused')" ] || fail "$name: bash -c gave '$got'"
	got=$("${pre[@]}" $PY -c '
import socket
s = socket.socket(); s.bind(("0.0.0.0", 0)); s.listen(4)
c = socket.create_connection(("127.0.0.1", s.getsockname()[1])); a, _ = s.accept()
c.sendall(b"ping"); print(a.recv(10).decode()); a.sendall(b"pong"); print(c.recv(10).decode())
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); v.sendto(b"dgram", u.getsockname()); print(u.recv(10).decode())
' 2>"$SHIM_TMP/py.err")
	[ "$got" = "$(printf 'ping\npong\ndgram')" ] || { cat "$SHIM_TMP/py.err"; fail "$name: python3 sockets gave '$got'"; }
	grep -q "on the stack" "$SHIM_TMP/py.err" && fail "$name: python3 put a socket on the stack"

	"${pre[@]}" $PY -m http.server "$port" --bind 0.0.0.0 --directory "$SHIM_TMP/www" >"$SHIM_TMP/http.log" 2>&1 &
	local srv=$!
	net_kill_at_exit $srv
	net_wait_tcp "" 127.0.0.1 "$port" 10 || { cat "$SHIM_TMP/http.log"; fail "$name: http.server never listened"; }
	got=$("${pre[@]}" curl -sS --max-time 10 "http://127.0.0.1:$port/index.html" 2>"$SHIM_TMP/curl.err")
	[ "$got" = "served $$" ] || { cat "$SHIM_TMP/curl.err" "$SHIM_TMP/http.log"; fail "$name: curl got '$got'"; }
	no_dpdk $srv "$name: http.server"
	kill $srv; wait $srv 2>/dev/null
	grep -q "on the stack" "$SHIM_TMP/http.log" && fail "$name: http.server put a socket on the stack"
	echo "$name: ls, bash, python3 sockets, http.server + curl unchanged; no DPDK"
}

run_mode "no config"
run_mode "DEMI_DISABLE=1" "$SHIM_TMP/disabled.conf" DEMI_DISABLE=1
run_mode "rules matching nothing" "$SHIM_TMP/nomatch.conf"
