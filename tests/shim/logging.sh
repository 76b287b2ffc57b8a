#!/usr/bin/env bash
# Logging: at level info one banner names the configuration file, the
# device, the address, the bypass rules and every non-default setting; at
# the default level a healthy start prints nothing; [log] file sends the
# lines to a file instead of stderr; a relative [log] file is an error
# naming file:line.
. "$(dirname "$0")/../lib/net.sh"
need_cmd python3
need_lib
tmp=$(mktemp -d /tmp/demi-log.XXXXXX)
net_cleanup_add "rm -rf $tmp"
base='[dpdk]
device = tap:dlog0
[net]
address = 198.18.13.2/24
gateway = 198.18.13.1
mtu = 1400
[bypass]
listen = 80 8080
connect = 198.18.13.0/24
[fallback]
on_error = fail
[tcp]
congestion = newreno'
# the interpreter itself: python3 on PATH may be a shell wrapper that runs
# many processes, each with its own banner
PY=$(python3 -c 'import sys; print(sys.executable)')
run() { env LD_PRELOAD="$DEMI_LIB" DEMI_CONFIG="$1" "${@:2}" "$PY" -c pass; }

printf '%s\n' "$base" >"$tmp/a.conf"
err=$(run "$tmp/a.conf" 2>&1 >/dev/null)
[ -z "$err" ] || fail "default level printed: $err"

err=$(run "$tmp/a.conf" DEMI_LOG=info 2>&1 >/dev/null)
echo "$err"
[ "$(echo "$err" | grep -c .)" -eq 1 ] || fail "want exactly one banner line"
for want in "$tmp/a.conf" "device tap:dlog0" "address 198.18.13.2/24" "listen 80 8080" \
	"connect 198.18.13.0/24" "gateway 198.18.13.1" "mtu 1400" "on_error fail" "congestion newreno"; do
	echo "$err" | grep -qF "$want" || fail "banner lacks '$want'"
done
echo "$err" | grep -q "udp no" && fail "banner names a default (udp)"

printf '%s\n[log]\nlevel = info\nfile = %s\n' "$base" "$tmp/demi.log" >"$tmp/b.conf"
err=$(run "$tmp/b.conf" 2>&1 >/dev/null)
[ -z "$err" ] || fail "with [log] file, stderr got: $err"
grep -qF "device tap:dlog0" "$tmp/demi.log" || fail "banner not in the log file"

printf '%s\n[log]\nfile = relative.log\n' "$base" >"$tmp/c.conf"
err=$(run "$tmp/c.conf" 2>&1 >/dev/null)
echo "$err" | grep -qF "$tmp/c.conf:15: [log] file: 'relative.log' is not an absolute path" || fail "relative log file: $err"
echo "logging: one banner at info, quiet by default, [log] file honoured, bad value named"
