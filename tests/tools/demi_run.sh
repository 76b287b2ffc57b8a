#!/usr/bin/env bash
# demi-run: arguments, errors, and the environment it gives the program.
# Runs on copies of the binary next to a stand-in libdemi.so, so it works
# before the shim is built; the real build/demi-run is checked too.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/net.sh"
bin="$top/build/demi-run"
[ -x "$bin" ] || skip "build/demi-run not built"
need_cmd cc

tmp=$(mktemp -d /tmp/demi-run-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/nolib" "$tmp/inst/bin" "$tmp/inst/lib" "$tmp/conf.d"
# stand-ins: real, empty shared objects, so the dynamic loader preloads them quietly
printf 'int demi_run_test_stub;\n' >"$tmp/stub.c"
cc -shared -fPIC -o "$tmp/bin/libdemi.so" "$tmp/stub.c" || fail "cannot build a stand-in library"
cp "$tmp/bin/libdemi.so" "$tmp/inst/lib/libdemi.so"
cp "$tmp/bin/libdemi.so" "$tmp/other.so"
cp "$bin" "$tmp/bin/demi-run"
cp "$bin" "$tmp/nolib/demi-run"
cp "$bin" "$tmp/inst/bin/demi-run"
echo "[net]" >"$tmp/demi.conf"
printf '#!/bin/sh\necho hi\n' >"$tmp/noexec"
chmod 644 "$tmp/noexec"
dr="$tmp/bin/demi-run"

# run CMD...: sets $out, $err, $rc
run() {
	out=$("$@" 2>"$tmp/err"); rc=$?
	err=$(cat "$tmp/err")
}
expect_rc() { [ "$rc" -eq "$1" ] || fail "$2: exit $rc, expected $1 (stderr: $err)"; }
expect_eq() { [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"; }
expect_has() { case "$1" in *"$2"*) ;; *) fail "$3: '$1' does not contain '$2'" ;; esac; }

# help and usage
run "$dr" -h;      expect_rc 0 "-h"; expect_has "$out" "usage: demi-run [-c FILE] [-v] [--] PROGRAM" "-h"
run "$dr" --help;  expect_rc 0 "--help"; expect_has "$out" "usage: demi-run" "--help"
run "$dr" -x true; expect_rc 2 "bad option"; expect_has "$err" "usage: demi-run" "bad option"; expect_eq "$out" "" "bad option stdout"
run "$dr";         expect_rc 2 "no program"; expect_has "$err" "no program given" "no program"
run "$dr" -c;      expect_rc 2 "-c without a file"; expect_has "$err" "usage:" "-c without a file"

# the environment the program gets
run env -u LD_PRELOAD "$dr" -- printenv LD_PRELOAD
expect_rc 0 "plain run"; expect_eq "$out" "$tmp/bin/libdemi.so" "LD_PRELOAD"
run env LD_PRELOAD="$tmp/other.so" "$dr" printenv LD_PRELOAD
expect_rc 0 "prepend"; expect_eq "$out" "$tmp/bin/libdemi.so:$tmp/other.so" "LD_PRELOAD prepended"
run env LD_PRELOAD="$tmp/bin/libdemi.so" "$dr" printenv LD_PRELOAD
expect_rc 0 "nested"; expect_eq "$out" "$tmp/bin/libdemi.so" "LD_PRELOAD not doubled"
run env -u DEMI_LOG "$dr" printenv DEMI_LOG
expect_rc 1 "no -v: DEMI_LOG unset"
run "$dr" -v printenv DEMI_LOG;  expect_rc 0 "-v"; expect_eq "$out" "debug" "DEMI_LOG"
(cd "$tmp" && run "$dr" -c demi.conf printenv DEMI_CONFIG
	expect_rc 0 "-c relative"; expect_eq "$out" "$tmp/demi.conf" "DEMI_CONFIG made absolute") || exit 1
run env -u DEMI_CONFIG "$dr" printenv DEMI_CONFIG; expect_rc 1 "no -c: DEMI_CONFIG unset"
# the program's own options and arguments pass through untouched
run "$dr" sh -c 'printf "%s|" "$@"' sh -v "a b" -- -c
expect_rc 0 "args"; expect_eq "$out" "-v|a b|--|-c|" "arguments"
run "$dr" sh -c 'exit 7'; expect_rc 7 "exit status of the program"

# configuration errors
run "$dr" -c "$tmp/missing.conf" true
expect_rc 1 "missing config"; expect_has "$err" "demi-run: $tmp/missing.conf: cannot read configuration" "missing config"
run "$dr" -c "$tmp/conf.d" true
expect_rc 1 "directory config"; expect_has "$err" "not a regular file" "directory config"

# program errors, as a shell reports them
run "$dr" demi-no-such-program-xyz
expect_rc 127 "not found"; expect_eq "$err" "demi-run: demi-no-such-program-xyz: command not found" "not found"
run "$dr" "$tmp/missing-prog"; expect_rc 127 "missing path"
run "$dr" "$tmp/noexec"; expect_rc 126 "not executable"; expect_has "$err" "Permission denied" "not executable"

# where the library is looked for
run "$tmp/nolib/demi-run" true
expect_rc 1 "no library"; expect_has "$err" "demi-run: libdemi.so not found at $tmp/nolib/libdemi.so" "no library"
run env -u LD_PRELOAD "$tmp/inst/bin/demi-run" printenv LD_PRELOAD
expect_rc 0 "installed"; expect_eq "$out" "$tmp/inst/lib/libdemi.so" "PREFIX/lib/libdemi.so, without .."
# through a symlink, the binary's real directory counts
ln -s "$tmp/bin/demi-run" "$tmp/nolib/link"
run env -u LD_PRELOAD "$tmp/nolib/link" printenv LD_PRELOAD
expect_rc 0 "symlink"; expect_eq "$out" "$tmp/bin/libdemi.so" "symlinked binary"

# the real binary: a clear error until the shim is built, its path after
if [ -f "$top/build/libdemi.so" ]; then
	run env -u LD_PRELOAD DEMI_DISABLE=1 "$bin" printenv LD_PRELOAD
	expect_rc 0 "build/demi-run"; expect_eq "$out" "$top/build/libdemi.so" "build/libdemi.so"
else
	run "$bin" true
	expect_rc 1 "build/demi-run without the shim"
	expect_has "$err" "libdemi.so not found at $top/build/libdemi.so" "build/demi-run without the shim"
fi
echo "demi-run: arguments, environment and errors as documented"
