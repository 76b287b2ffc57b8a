#!/usr/bin/env bash
# The shim built with ASan+UBSan (build/asan/libdemi-nort.so, no runtime:
# every bypassed socket falls back) runs the socket-call and wait programs
# with no config and with rules that bypass every listener: no memory
# error, no leak, no undefined behaviour, and the same output as the kernel.
. "$(dirname "$0")/../lib/shim.sh"
lib=$DEMI_TOP/build/asan/libdemi-nort.so
[ -f "$lib" ] || skip "build/asan/libdemi-nort.so not built"
asan=$(${CC:-gcc} -print-file-name=libasan.so)
[ -f "$asan" ] || skip "no libasan.so"
shim_write_configs
for prog in sockcalls waits; do
	p=$DEMI_TOP/build/tests/shim/$prog
	"$p" >"$SHIM_TMP/$prog.kernel" 2>/dev/null || fail "$prog on the kernel"
	for conf in "" "$SHIM_TMP/fallback.conf"; do
		what=${conf:+rules bypassing every listener}
		what=${what:-no config}
		DEMI_PRELOAD="$asan:$lib" demi_run "$conf" ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
			UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$p" >"$SHIM_TMP/$prog.asan" 2>"$SHIM_TMP/$prog.err" ||
			{ cat "$SHIM_TMP/$prog.err"; fail "$prog under the ASan shim ($what)"; }
		grep -q "runtime error\|ERROR: AddressSanitizer\|LeakSanitizer" "$SHIM_TMP/$prog.err" &&
			{ cat "$SHIM_TMP/$prog.err"; fail "$prog: sanitizer report"; }
		diff -u "$SHIM_TMP/$prog.kernel" "$SHIM_TMP/$prog.asan" || fail "$prog differs under the ASan shim"
		echo "$prog ($what): clean under ASan+UBSan, same as the kernel"
	done
done
