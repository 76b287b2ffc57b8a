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

# shim_compare PROG [ARGS...]: kernel vs. shim, first with every socket left
# with the kernel (no config, non-matching rules, matching rules with a
# failing device), then with the sockets bypassed (shim_compare_bypassed).
# Prints the diffs and fails on one.
shim_compare() {
	shim_compare_fallback "$@"
	shim_compare_bypassed "$@"
}

# shim_compare_bypassed PROG [ARGS...]: PROG (see t_side, t_start in
# tests/shim/t.h) on the kernel in a namespace holding both addresses on lo,
# then under the shim in a namespace where the stack has a tap and the
# tap's kernel end is the peer: sockets bound to T_LOCAL (the stack's
# address) or connecting to T_PEER (the kernel end) are the stack's. The
# outputs must be identical, and each socket the program names as a subject
# must be on the stack by the shim's own word (its debug log for that fd).
shim_compare_bypassed() {
	local prog=$1; shift
	local name; name=$(basename "$prog")
	local out=$SHIM_TMP/$name.byp local=198.18.30.2 peer=198.18.30.1
	need_root
	local kns sns tap
	kns=$(net_ns_new dscK)
	ip -n "$kns" addr add $local/32 dev lo
	ip -n "$kns" addr add $peer/32 dev lo
	T_LOCAL=$local T_PEER=$peer T_READY=/dev/null ip netns exec "$kns" timeout 120 "$prog" "$@" \
		>"$out.kernel" 2>"$out.kernel.err" || fail "$name on the kernel (two addresses on lo): exit $? ($(cat "$out.kernel.err"))"
	sns=$(net_ns_new dscS)
	tap=$(net_tag dsct)
	demi_conf "$SHIM_TMP/bypassed.conf" device="tap:$tap" address=$local/24 connect=$peer/32 udp=yes \
		on_error=fail level=debug
	demi_pre -n "$sns" "$SHIM_TMP/bypassed.conf"
	rm -f "$out.ready"
	"${DEMI_PRE[@]}" T_LOCAL=$local T_PEER=$peer T_READY="$out.ready" timeout 120 "$prog" "$@" >"$out.shim" 2>"$out.shim.err" &
	local pid=$!
	net_kill_at_exit $pid
	net_tap_attach "$sns" "$tap" $peer/24 || { cat "$out.shim.err"; fail "tap $tap never appeared"; }
	touch "$out.ready"
	wait $pid || { local prc=$?; tail -n 40 "$out.shim.err"; fail "$name bypassed: exit $prc"; }
	if ! diff -u "$out.kernel" "$out.shim"; then
		grep -E "error|warn" "$out.shim.err" | head -20
		fail "$name: kernel and shim (bypassed) differ"
	fi
	# each subject fd: the shim's last word on that fd before the subject line
	awk '
		/^libdemi.*: fd [0-9]+: (bypassed|kernel):/ {
			match($0, /fd [0-9]+:/); fd = substr($0, RSTART + 3, RLENGTH - 4)
			side[fd] = ($0 ~ /: bypassed:/) ? "bypassed" : "kernel"
		}
		/^subject / { n++; fd = $NF; sub(/^subject /, ""); sub(/ fd [0-9]+$/, "")
			if (side[fd] != "bypassed") { bad++; print "  NOT bypassed: " $0 " (fd " fd ": " (side[fd] ? side[fd] : "never decided") ")" }
			else subj[$0] = 1 }
		END {
			for (s in subj) list = list (list ? ", " : "") s
			printf "  %d subject sockets, all on the stack: %s\n", n, list
			exit bad ? 1 : (n ? 0 : 2)
		}' "$out.shim.err" || fail "$name: a socket expected on the stack was not bypassed"
	echo "$name (bypassed, tap + kernel peer): $(wc -l <"$out.kernel") observations identical to the kernel"
	ip -n "$sns" link del "$tap" 2>/dev/null || true
}

# shim_compare_fallback PROG [ARGS...]: the runs in which every socket stays
# with the kernel.
shim_compare_fallback() {
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
			echo "$name (fallback: $mode, every socket with the kernel): $(wc -l <"$SHIM_TMP/$name.kernel") observations identical to the kernel"
		fi
		if [ "$mode" = fallback ] && [ -s "$SHIM_TMP/$name.$mode.err" ]; then
			echo "$name ($mode) stderr:"; cat "$SHIM_TMP/$name.$mode.err"
		fi
	done
	[ $rc -eq 0 ] || fail "$name: the shim changed what the program sees"
}
