#!/usr/bin/env bash
# The benchmark harness works end to end: a --quick run produces a report with
# numbers and plots. It asserts nothing about speed. With libdemi built (and
# root), every libdemi cell must hold a number: a run that failed, or whose
# server's stack counters do not show the traffic (the report's "Through the
# stack"), fails this test. A retried floor run is shown, not hidden.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d /tmp/demi-benchq.XXXXXX)
trap 'rm -rf "$out"' EXIT
fail() { echo "bench --quick: $*"; cat "$out/REPORT.md" 2>/dev/null | head -60; exit 1; }
timeout 300 /usr/bin/python3 "$top/tools/bench/bench.py" --quick --out "$out" >"$out/log" 2>&1 ||
	{ tail -30 "$out/log"; fail "the harness failed"; }
r="$out/REPORT.md"
num='-?[0-9][0-9,.]*'
grep -qE '^[0-9-]+ [0-9:]+ UTC — .*, [0-9]+ cores, Linux .*, DPDK ' "$r" || fail "no machine line"
grep -qE "^\| nginx_c32 \| req_per_s \| $num \|" "$r" || fail "no kernel nginx number"
grep -qE "^\| sockperf_64B, kernel \(2 cores\) \| rtt_p50_us \| $num \|" "$r" || fail "no kernel sockperf (2 cores) number"
grep -qE "^\| sockperf_64B, kernel \(1 core\) \| rtt_p99_us \| $num \|" "$r" || fail "no kernel sockperf (1 core) number"
grep -qE "^\| startup_noconf \| true_ms \| $num \|" "$r" || fail "no start-up number"
grep -qE "^\| scale_idle_conns \| per_conn_kib \| $num \|" "$r" || fail "no kernel memory-per-connection number"
grep -qE "^\| co_switch \| switch_ns \| $num \| $num \|" "$r" || fail "no context switch numbers"
[ -s "$out/latency_dist.png" ] && [ -s "$out/requests.png" ] && [ -s "$out/memory.png" ] || fail "missing plots"
if [ -f "$top/build/libdemi.so" ] && [ "$(id -u)" -eq 0 ]; then
	# each libdemi cell holds a number or names the error recorded below the tables
	for row in "nginx_c32 \| req_per_s" "sockperf_64B, kernel \(2 cores\) \| rtt_p50_us" \
		"startup_noconf \| true_ms" "scale_idle_conns \| per_conn_kib" "tcp_rtt_stack_64B \| rtt_p50_us"; do
		grep -qE "^\| $row \| [^|]* \| ($num|\*\*error E[0-9]+\*\*) \|" "$r" || fail "no libdemi value or error for: $row"
	done
	grep -qE "^\| memif_raw_64B \| rtt_p50_us \| \| \| \| $num \|" "$r" || fail "no floor number"
	if grep -q '\*\*error E' "$r"; then
		grep -qE '^- E[0-9]+: ' "$r" || fail "an error is referenced but not described"
	fi
	grep -qE '^- E[0-9]+: [^,]+, (libdemi|floor),' "$r" && { sed -n '/^## Errors/,/^## /p' "$r"; fail "a libdemi or floor run failed"; }
	for b in sockperf_64B nginx_c32 scale_idle_conns; do
		grep -qE "^- $b: server stack: [0-9,]+ segments" "$r" || fail "no stack counters shown for $b"
	done
	sed -n '/^## Notes/,/^## /p' "$r" | grep '^- ' | sed 's/^/bench --quick: note: /'
fi
echo "bench --quick: report with numbers and plots"
