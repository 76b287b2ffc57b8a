#!/usr/bin/env bash
# Runs every test: the cmocka programs (plain and ASan+UBSan builds), then the
# scripts under tests/interop, tests/shim and tests/apps (exit 0 pass, 77 skip,
# anything else fail). Each runs under a time limit; a summary line ends it.
# A passing test that could not run a part of itself says so with a line
# "SKIP-PART: reason": it is listed and counted, never hidden in the pass.
# Counters files (/dev/shm/demi.PID.*) a test leaves behind are listed too.
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

pass=0 fail=0 skip=0 parts=0 twice=0 left=0
failed=()
declare -A distinct=()
logdir=build/test-logs
mkdir -p "$logdir"

run_one() { # name limit cmd...
	local name=$1 limit=$2; shift 2
	[ -n "$pat" ] && [[ "$name" != *$pat* ]] && return
	local log="$logdir/$(echo "$name" | tr '/ ' '__').log"
	local t0=$SECONDS rc before
	[ -n "${distinct[${name#asan/}]:-}" ] && twice=$((twice + 1))
	distinct[${name#asan/}]=1
	before=$(shm_files)
	timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1
	rc=$?
	local dt=$((SECONDS - t0))
	shm_left "$name" "$before"
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1)); printf 'PASS  %-48s %4ss\n' "$name" "$dt"
		grep -E '^\[  PASSED  \]' "$log" | sed 's/^/      /'
		if grep -q '^SKIP-PART: ' "$log"; then
			parts=$((parts + $(grep -c '^SKIP-PART: ' "$log")))
			grep '^SKIP-PART: ' "$log" | sed 's/^SKIP-PART: /      part skipped: /'
		fi
	elif [ $rc -eq 77 ]; then
		skip=$((skip + 1)); printf 'SKIP  %-48s %s\n' "$name" "$(tail -n 1 "$log")"
	else
		fail=$((fail + 1)); failed+=("$name")
		[ $rc -eq 124 ] && echo "timed out after ${limit}s" >>"$log"
		printf 'FAIL  %-48s %4ss (exit %d)\n' "$name" "$dt" "$rc"
		tail -n 40 "$log" | sed 's/^/      | /'
	fi
}

# the counters files of processes that are gone; after a test, any new one
# is listed (the next stack that starts would reclaim it)
shm_files() {
	local f p
	for f in /dev/shm/demi.*; do
		[ -e "$f" ] || continue
		p=${f#/dev/shm/demi.}; p=${p%%.*}
		kill -0 "$p" 2>/dev/null || [ -d "/proc/$p" ] || echo "$f"
	done
}
shm_left() { # name files-before
	local f new=()
	for f in $(shm_files); do
		[[ $'\n'"$2"$'\n' == *$'\n'"$f"$'\n'* ]] || new+=("$f")
	done
	[ ${#new[@]} -eq 0 ] && return
	left=$((left + ${#new[@]}))
	printf 'LEFT  %-48s %s\n' "$1" "${new[*]}"
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
echo "distinct tests: ${#distinct[@]} ($twice of them ran twice, plain and ASan);" \
	"parts skipped inside passing tests: $parts; counters files left by dead processes: $left"
echo "tests: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
