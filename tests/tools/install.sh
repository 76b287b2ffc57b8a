#!/usr/bin/env bash
# make install / uninstall into a staging directory: every file lands where
# the man pages and README say, each man page renders without warnings, the
# installed libdemi.so finds its stack library beside it, and uninstall
# removes all it installed.
. "$(dirname "$0")/../lib/shim.sh"
need_cmd groff man
stage=$(mktemp -d /tmp/demi-install.XXXXXX)
net_cleanup_add "rm -rf $stage"
cd "$DEMI_TOP"
make --no-print-directory install PREFIX=/usr/local DESTDIR="$stage" >"$stage.log" 2>&1 || { cat "$stage.log"; fail "make install"; }
rm -f "$stage.log"
want=(usr/local/share/man/man1/demi-run.1 usr/local/share/man/man1/demistat.1
	usr/local/share/man/man5/demi.conf.5 etc/demi/demi.conf.example
	usr/local/share/doc/libdemi/examples/tap.conf usr/local/share/doc/libdemi/examples/memif-server.conf)
[ -f build/libdemi.so ] && want+=(usr/local/lib/libdemi.so usr/local/lib/libdemi-stack.so)
[ -f build/demi-run ] && want+=(usr/local/bin/demi-run)
[ -f build/demistat ] && want+=(usr/local/bin/demistat)
for f in "${want[@]}"; do
	[ -f "$stage/$f" ] || fail "not installed: $f"
done
[ -e "$stage/etc/demi/demi.conf" ] && fail "install must not write an active /etc/demi/demi.conf"
if [ -f build/libdemi.so ]; then
	# a bypassed listener loads the installed stack library (its device,
	# an interface that does not exist, then fails to start)
	shim_write_configs
	DEMI_PRELOAD=$stage/usr/local/lib/libdemi.so demi_run "$SHIM_TMP/fallback.conf" DEMI_LOG=warn python3 -c '
import socket
s = socket.socket(); s.bind(("0.0.0.0", 0)); s.listen(4); s.settimeout(0.2)
try: s.accept()
except OSError: pass' 2>"$SHIM_TMP/installed.err"
	grep -q "stack unavailable" "$SHIM_TMP/installed.err" || { cat "$SHIM_TMP/installed.err"; fail "the installed library never tried to start the stack"; }
	! grep "cannot load the stack library" "$SHIM_TMP/installed.err" || fail "the installed libdemi.so does not find libdemi-stack.so"
fi
for m in "$stage"/usr/local/share/man/man*/*; do
	out=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$m" 2>&1)
	[ -z "$out" ] || fail "$m: $out"
	MANPAGER=cat MANWIDTH=80 man -l "$m" 2>/dev/null | grep -q "^NAME" || fail "$m does not render"
done
make --no-print-directory uninstall PREFIX=/usr/local DESTDIR="$stage" >/dev/null 2>&1 || fail "make uninstall"
left=$(find "$stage" -type f)
[ -z "$left" ] || fail "left after uninstall: $left"
echo "install: ${#want[@]} files installed, man pages render, uninstall removes them"
