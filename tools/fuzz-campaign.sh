#!/usr/bin/env bash
# A long fuzzing campaign: every fuzzer for SECONDS each (one core), new
# inputs fuzzed from the committed corpus, then merged back into it (only
# those that add coverage: libFuzzer's -merge=1), so the tree's corpus grows
# with each campaign. A crash is kept under build/fuzz-artifacts/ and the
# campaign says so and exits 1. `make fuzz SECONDS=N` runs it.
#   tools/fuzz-campaign.sh SECONDS [NAME...]
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:?usage: tools/fuzz-campaign.sh SECONDS [NAME...]}
shift
names=("$@")
[ ${#names[@]} -gt 0 ] || names=($(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_||; s|\.c$||'))
command -v "${FUZZ_CC:-clang}" >/dev/null || { echo "clang is not installed (make deps)"; exit 1; }
# SECONDS= : the build alone, not another campaign
make --no-print-directory -j2 fuzz SECONDS= >/dev/null || { echo "fuzzers do not build"; exit 1; }
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
art=build/fuzz-artifacts
mkdir -p "$art"
rc=0 total=0
for name in "${names[@]}"; do
	fz=build/fuzz/$name corpus=tests/fuzz/corpus/$name
	[ -x "$fz" ] && [ -d "$corpus" ] || { echo "$name: no fuzzer or no corpus"; rc=1; continue; }
	dict=()
	[ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
	work=$(mktemp -d)
	before=$(ls "$corpus" | wc -l)
	start=$(date +%s)
	"$fz" "${dict[@]}" -max_total_time="$secs" -timeout=20 -max_len=4096 -print_final_stats=1 \
		-artifact_prefix="$art/$name-" "$work" "$corpus" >"$art/$name-campaign.log" 2>&1
	r=$?
	total=$((total + $(date +%s) - start))
	if [ $r -ne 0 ]; then
		tail -n 40 "$art/$name-campaign.log"
		echo "$name: FOUND A FAILURE (input under $art/)"
		rc=1
	fi
	"$fz" -merge=1 "$corpus" "$work" >"$art/$name-merge.log" 2>&1
	runs=$(grep -h '^stat::number_of_executed_units' "$art/$name-campaign.log" | awk '{print $2}')
	echo "$name: ${runs:-?} runs in ${secs}s, corpus $before -> $(ls "$corpus" | wc -l) inputs"
	rm -rf "$work"
done
echo "campaign: $(awk -v s=$total 'BEGIN { printf "%.2f", s / 3600 }') CPU-hours"
exit $rc
