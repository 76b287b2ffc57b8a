#!/usr/bin/env bash
# The benchmark harness works end to end: a --quick run produces a report with
# numbers (it asserts nothing about speed).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d /tmp/demi-benchq.XXXXXX)
trap 'rm -rf "$out"' EXIT
/usr/bin/python3 "$top/tools/bench/bench.py" --quick --out "$out" >"$out/log" 2>&1 || { cat "$out/log"; exit 1; }
grep -qE '^\| nginx_c32 \| req_per_s \| [0-9,.]+ \|' "$out/REPORT.md" || { cat "$out/REPORT.md"; echo "no nginx number"; exit 1; }
grep -qE '^\| sockperf_64B_2cpu \| rtt_p50_us \| [0-9,.]+ \|' "$out/REPORT.md" || { echo "no sockperf number"; exit 1; }
[ -s "$out/throughput.png" ] || { echo "no plot"; exit 1; }
if [ -f "$top/build/libdemi.so" ] && [ "$(id -u)" -eq 0 ]; then
	grep -qE '^\| nginx_c32 \| req_per_s \| [0-9,.]+ \| [0-9,.]+ \|' "$out/REPORT.md" || { cat "$out/REPORT.md"; echo "no libdemi number"; exit 1; }
fi
echo "bench --quick: report with numbers and plots"
