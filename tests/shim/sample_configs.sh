#!/usr/bin/env bash
# Every sample configuration shipped in conf/ parses without an error and
# its banner (level info) names its device; nothing starts, since the
# program opens no socket.
. "$(dirname "$0")/../lib/net.sh"
need_cmd python3
need_lib
PY=$(python3 -c 'import sys; print(sys.executable)')
n=0
for f in "$DEMI_TOP"/conf/*.conf; do
	dev=$(sed -n 's/^device *= *\([^ ;]*\).*/\1/p' "$f")
	out=$(demi_run "$f" DEMI_LOG=info "$PY" -c pass 2>&1)
	echo "$out"
	echo "$out" | grep -q "error" && fail "$f: $out"
	echo "$out" | grep -qF "device $dev," || fail "$f: banner does not name device $dev"
	n=$((n + 1))
done
[ $n -ge 6 ] || fail "expected a sample per device kind, found $n"
echo "sample configurations: $n parse cleanly"
