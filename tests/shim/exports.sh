#!/usr/bin/env bash
# libdemi.so exports exactly the functions of shim/calls.def (and
# libdemi.map lists exactly those): nothing of the stack or of DPDK leaks
# into every program the library is preloaded into.
. "$(dirname "$0")/../lib/net.sh"
need_lib
want=$(grep -o '^CALL([^,]*, *[a-z_0-9]*' "$DEMI_TOP/shim/calls.def" | sed 's/.*, *//' | sort)
map=$(sed -n '/global:/,/local:/p' "$DEMI_TOP/shim/libdemi.map" | grep -o '^[[:space:]]*[a-z_0-9]*;' | tr -d ' \t;' | sort)
got=$(nm -D --defined-only "$DEMI_LIB" | awk '$2 ~ /^[TWi]$/ {print $3}' | sed 's/@.*//' | sort)
[ "$want" = "$map" ] || { diff <(echo "$want") <(echo "$map"); fail "libdemi.map and calls.def differ"; }
[ "$want" = "$got" ] || { diff <(echo "$want") <(echo "$got"); fail "exported symbols and calls.def differ"; }
other=$(nm -D --defined-only "$DEMI_LIB" | awk '$2 !~ /^[TWi]$/ && $2 != "A" {print $3}')
[ -z "$other" ] || fail "exported data: $other"
echo "libdemi.so exports the $(echo "$want" | wc -l) functions of calls.def and nothing else"
