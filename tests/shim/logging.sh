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
# base FILE [KEY=VALUE...]: the config under test, 13 lines before any [log]
base() {
	demi_conf "$1" device=tap:dlog0 address=198.18.13.2/24 gateway=198.18.13.1 mtu=1400 \
		listen="80 8080" connect=198.18.13.0/24 on_error=fail tcp.congestion=newreno "${@:2}"
}
# the interpreter itself: python3 on PATH may be a shell wrapper that runs
# many processes, each with its own banner
PY=$(python3 -c 'import sys; print(sys.executable)')
run() { demi_run "$1" "${@:2}" "$PY" -c pass; }

base "$tmp/a.conf"
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

base "$tmp/b.conf" level=info log.file="$tmp/demi.log"
err=$(run "$tmp/b.conf" 2>&1 >/dev/null)
[ -z "$err" ] || fail "with [log] file, stderr got: $err"
grep -qF "device tap:dlog0" "$tmp/demi.log" || fail "banner not in the log file"

base "$tmp/c.conf" log.file=relative.log
err=$(run "$tmp/c.conf" 2>&1 >/dev/null)
echo "$err" | grep -qF "$tmp/c.conf:15: [log] file: 'relative.log' is not an absolute path" || fail "relative log file: $err"
echo "logging: one banner at info, quiet by default, [log] file honoured, bad value named"
