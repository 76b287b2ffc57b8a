#!/usr/bin/env bash
# Runs every test: the cmocka programs (plain and ASan+UBSan builds), then the
# scripts under tests/interop, tests/shim and tests/apps (exit 0 pass, 77 skip,
# anything else fail). Each runs under a time limit; a summary line ends it.
# Where a new test goes and which fixture or helper it uses: tests/README.md.
#   tests/run-all.sh [--unit] [PATTERN]
set -uo pipefail
cd "$(dirname "$0")/.."

only_unit=0
pat=""
for a in "$@"; do
	case "$a" in
	--unit) only_unit=1 ;;
	*) pat="$a" ;;
	esac
done

pass=0 fail=0 skip=0
failed=()
logdir=build/test-logs
mkdir -p "$logdir"

run_one() { # name limit cmd...
	local name=$1 limit=$2; shift 2
	[ -n "$pat" ] && [[ "$name" != *$pat* ]] && return
	local log="$logdir/$(echo "$name" | tr '/ ' '__').log"
	local t0=$SECONDS rc
	timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1
	rc=$?
	local dt=$((SECONDS - t0))
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1)); printf 'PASS  %-48s %4ss\n' "$name" "$dt"
		grep -E '^\[  PASSED  \]' "$log" | sed 's/^/      /'
	elif [ $rc -eq 77 ]; then
		skip=$((skip + 1)); printf 'SKIP  %-48s %s\n' "$name" "$(tail -n 1 "$log")"
	else
		fail=$((fail + 1)); failed+=("$name")
		[ $rc -eq 124 ] && echo "timed out after ${limit}s" >>"$log"
		printf 'FAIL  %-48s %4ss (exit %d)\n' "$name" "$dt" "$rc"
		tail -n 40 "$log" | sed 's/^/      | /'
	fi
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in build/tests/unit/* build/tests/proto/*; do
	[ -x "$t" ] && run_one "${t#build/tests/}" 600 "$t"
done
for t in build/asan/tests/unit/* build/asan/tests/proto/*; do
	[ -x "$t" ] && run_one "asan/${t#build/asan/tests/}" 900 "$t"
done

if [ $only_unit -eq 0 ]; then
	for dir in tests/interop tests/shim tests/apps tests/tools tests/fuzz; do
		for s in "$dir"/*.sh; do
			[ -x "$s" ] && run_one "${s#tests/}" 900 "$s"
		done
	done
fi

echo
if [ $fail -gt 0 ]; then
	echo "failed: ${failed[*]} (logs in $logdir)"
fi
echo "tests: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
