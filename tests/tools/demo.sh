#!/usr/bin/env bash
# make demo end to end: it must fetch the page through libdemi, print both
# tables (tap: kernel vs libdemi servers; memif vs loopback: both ends) with
# numbers in every row and the ratio line, and leave no namespace or process
# behind.
. "$(dirname "$0")/../lib/net.sh"
need_root
need_cmd nginx curl wrk
need_lib
cd "$DEMI_TOP"
before=$(ip netns list | grep -c '^demo' || true)
out=$(make --no-print-directory demo DEMO_ARGS="-d 2" 2>&1); rc=$?
echo "$out"
[ $rc -eq 0 ] || fail "make demo exited $rc"
echo "$out" | grep -q "Served by nginx over libdemi" || fail "the page did not come through libdemi"
for r in kernel libdemi; do
	n=$(echo "$out" | grep -cE "^\| $r +\| +[0-9]+ \| +[0-9.]+ \| +[0-9.]+ \|$")
	[ "$n" -eq 2 ] || fail "$n of 2 tables have numbers in the $r row"
done
echo "$out" | grep -qE "no system call between them: [0-9]+\.[0-9]+x the kernel" || fail "no ratio line for the memif table"
after=$(ip netns list | grep -c '^demo' || true)
[ "$after" -le "$before" ] || fail "make demo left a namespace behind"
pgrep -f 'nginx.*demi-demo' >/dev/null && fail "make demo left nginx running"
echo "make demo: page through libdemi, both tables with both rows and the ratio"
