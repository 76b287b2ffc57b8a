#!/usr/bin/env bash
# The long runs (`make soak`): the tests `make test` runs short, at full
# size, one after the other, no time limit but each test's own. Logs in
# build/test-logs/soak-NAME.log; a summary line ends it.
#   tests/soak.sh [PATTERN]     only the runs whose name contains PATTERN
set -uo pipefail
cd "$(dirname "$0")/.."
pat=${1:-}
logdir=build/test-logs
mkdir -p "$logdir"
pass=0 fail=0 skip=0
failed=()

soak() { # NAME SCRIPT VAR=VALUE...
	local name=$1 script=$2 t0=$SECONDS rc log
	shift 2
	[ -n "$pat" ] && [[ "$name" != *$pat* ]] && return
	log=$logdir/soak-$name.log
	env "$@" "$script" >"$log" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1)); printf 'PASS  %-28s %6ss\n' "$name" $((SECONDS - t0))
		tail -n 3 "$log" | sed 's/^/      /'
	elif [ $rc -eq 77 ]; then
		skip=$((skip + 1)); printf 'SKIP  %-28s %s\n' "$name" "$(tail -n 1 "$log")"
	else
		fail=$((fail + 1)); failed+=("$name")
		printf 'FAIL  %-28s %6ss (exit %d)\n' "$name" $((SECONDS - t0)) $rc
		tail -n 30 "$log" | sed 's/^/      | /'
	fi
}

# 1 GiB each way through 10% loss, 10% reordering, 1% duplication, 0.1%
# corruption, the stack as client and as server, and Linux at both ends
soak transfer tests/interop/tap_tcp_soak.sh SOAK_MIB=1024 SOAK_LINUX=1
soak idle-100k tests/apps/idle_conns_tap.sh IDLE_CONNS=100000
soak churn-1m tests/apps/churn_tap.sh CHURN_CONNS=1000000 CHURN_LINUX=1
soak zero-window-10min tests/apps/zero_window_tap.sh ZW_SECS=600

echo
[ $fail -gt 0 ] && echo "failed: ${failed[*]} (logs in $logdir)"
echo "soak: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
