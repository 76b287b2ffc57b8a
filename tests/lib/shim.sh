# Helpers for the shim tests: run a program on the kernel and under the shim
# in several configurations, and fail on any difference in its output.
#   . tests/lib/shim.sh; shim_compare build/tests/shim/PROG [ARGS...]
. "$(dirname "${BASH_SOURCE[0]}")/net.sh"

SHIM_TMP=$(mktemp -d /tmp/demi-shimt.XXXXXX)
net_cleanup_add "rm -rf $SHIM_TMP"

# Configurations under which every socket must behave exactly as on the kernel.
shim_write_configs() {
	# rules that match nothing a loopback test uses
	demi_conf "$SHIM_TMP/nomatch.conf" device=tap:dnomatch0 address=198.18.200.2/24 \
		listen=1 connect=198.18.200.0/24 on_error=kernel
	# rules that bypass every listener: the stack cannot start here (no
	# device in this namespace for it), so each falls back to the kernel
	demi_conf "$SHIM_TMP/fallback.conf" device=af_packet:dnodev$$ address=198.18.201.2/24 \
		listen="*" connect=198.18.201.0/24 udp=yes on_error=kernel level=error
}

# shim_compare PROG [ARGS...]: kernel vs. shim (no config, non-matching rules,
# matching rules with a failing device). Prints the diff and fails on one.
shim_compare() {
	local prog=$1; shift
	local name; name=$(basename "$prog")
	[ -x "$prog" ] || fail "$prog not built"
	need_lib
	shim_write_configs
	"$prog" "$@" >"$SHIM_TMP/$name.kernel" 2>"$SHIM_TMP/$name.kernel.err" || fail "$name on the kernel: exit $? ($(cat "$SHIM_TMP/$name.kernel.err"))"
	local mode rc=0
	for mode in noconfig nomatch fallback; do
		local conf=""
		[ $mode = noconfig ] || conf=$SHIM_TMP/$mode.conf
		demi_run "$conf" "$prog" "$@" >"$SHIM_TMP/$name.$mode" 2>"$SHIM_TMP/$name.$mode.err"
		local prc=$?
		if [ $prc -ne 0 ]; then
			echo "$name under the shim ($mode): exit $prc"; cat "$SHIM_TMP/$name.$mode.err"; rc=1; continue
		fi
		if ! diff -u "$SHIM_TMP/$name.kernel" "$SHIM_TMP/$name.$mode" >"$SHIM_TMP/$name.$mode.diff"; then
			echo "$name: kernel and shim ($mode) differ:"; cat "$SHIM_TMP/$name.$mode.diff"; rc=1
		else
			echo "$name ($mode): $(wc -l <"$SHIM_TMP/$name.kernel") observations identical to the kernel"
		fi
		if [ "$mode" = fallback ] && [ -s "$SHIM_TMP/$name.$mode.err" ]; then
			echo "$name ($mode) stderr:"; cat "$SHIM_TMP/$name.$mode.err"
		fi
	done
	[ $rc -eq 0 ] || fail "$name: the shim changed what the program sees"
}
