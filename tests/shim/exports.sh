#!/usr/bin/env bash
# libdemi.so (and its ASan builds) exports exactly the functions of
# shim/calls.def: a wrapper for every line, and nothing of the shim, the
# stack or DPDK leaks into every program the library is preloaded into.
# The version script is made from calls.def (build/libdemi.map); what is
# checked here is what the linker made of it and of the wrappers.
. "$(dirname "$0")/../lib/net.sh"
need_lib
want=$(grep -o '^CALL([^,]*, *[A-Za-z_0-9]*' "$DEMI_TOP/shim/calls.def" | sed 's/.*, *//' | sort)
[ "$(echo "$want" | wc -l)" -gt 50 ] || fail "calls.def: too few names read ($(echo "$want" | wc -l))"
[ -z "$(echo "$want" | uniq -d)" ] || fail "calls.def lists a name twice: $(echo "$want" | uniq -d)"
for lib in "$DEMI_LIB" "$DEMI_TOP/build/asan/libdemi.so" "$DEMI_TOP/build/asan/libdemi-nort.so"; do
	[ -f "$lib" ] || continue
	got=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TWi]$/ {print $3}' | sed 's/@.*//' | sort)
	[ "$want" = "$got" ] || { diff <(echo "$want") <(echo "$got"); fail "$lib: exported functions and calls.def differ"; }
	other=$(nm -D --defined-only "$lib" | awk '$2 !~ /^[TWi]$/ && $2 != "A" {print $3}')
	[ -z "$other" ] || fail "$lib: exported data: $other"
	leak=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -E '^(rte_|demi_|stack_|sock_|rt_|ss_|shim_|real_)' || true)
	[ -z "$leak" ] || fail "$lib: internal symbols exported: $leak"
	echo "$(basename "$(dirname "$lib")")/$(basename "$lib") exports the $(echo "$want" | wc -l) functions of calls.def and nothing else"
done
