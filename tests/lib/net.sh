# Shell helpers for tests that make their own namespaces and devices, and
# run programs under the preload. Source it (shim.sh and apps.sh do); every
# name it makes is unique to this process and removed on exit, also when the
# test fails or is interrupted.
#   need_root; ns=$(net_ns_new tag); net_cleanup_add "cmd..."; net_wait_if ns dev secs
#   demi_conf FILE device=tap:$tap address=198.18.7.2/24 listen=80 level=info
#   demi_run -n "$ns" FILE CMD... &; net_tap_attach "$ns" "$tap" 198.18.7.1/24

DEMI_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DEMI_LIB=$DEMI_TOP/build/libdemi.so
# The cleanup list lives in a file, so helpers called in a command
# substitution (a subshell), like net_ns_new, still register their undo.
_net_cleanup_file=$(mktemp /tmp/demi-cleanup.XXXXXX)

net_cleanup_run() {
	local cmds i
	[ -f "$_net_cleanup_file" ] || return 0
	mapfile -t cmds <"$_net_cleanup_file"
	for ((i = ${#cmds[@]} - 1; i >= 0; i--)); do
		eval "${cmds[$i]}" >/dev/null 2>&1 || true
	done
	rm -f "$_net_cleanup_file"
}
trap net_cleanup_run EXIT
trap 'exit 130' INT TERM

net_cleanup_add() { printf '%s\n' "$*" >>"$_net_cleanup_file"; }

# The counters files (/dev/shm/demi.PID.*) of processes that are gone: a
# test's programs killed at exit (kill -9) cannot remove theirs. Registered
# first, so it runs last, after every kill.
net_shm_reclaim() {
	local f p
	for f in /dev/shm/demi.*; do
		[ -e "$f" ] || continue
		p=${f#/dev/shm/demi.}; p=${p%%.*}
		[ -d "/proc/$p" ] || rm -f "$f"
	done
}
net_cleanup_add net_shm_reclaim

skip() { echo "skip: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

need_root() { [ "$(id -u)" -eq 0 ] || skip "needs root"; }
need_cmd() { for c in "$@"; do command -v "$c" >/dev/null 2>&1 || skip "$c not installed"; done; }
need_lib() { [ -f "$DEMI_LIB" ] || skip "build/libdemi.so not built"; }

# A short unique tag: interface names are limited to 15 characters.
# Traffic to the benchmarking range 198.18.0.0/15 never follows the host's
# default route: a blackhole route under the tests' own, more specific ones,
# so a device that vanished (a crash, a tap re-created) drops it here. Set in
# the host's namespace, the only one with a way out (idempotent, shared by
# concurrent tests, left in place); the namespaces tests make have none.
[ "$(id -u)" -eq 0 ] && { ip route replace blackhole 198.18.0.0/15 2>/dev/null || true; }

net_tag() { printf '%s%x' "$1" $(( ($$ + RANDOM) & 0xffff )); }

# A fresh network namespace with loopback up; removed at exit with all it holds.
net_ns_new() {
	local ns; ns=$(net_tag "$1")
	ip netns add "$ns" || fail "ip netns add $ns"
	net_cleanup_add "ip netns pids $ns | xargs -r kill -9; sleep 0.2; ip netns del $ns"
	ip -n "$ns" link set lo up
	echo "$ns"
}

# net_veth_pair TAG KADDR/PREFIX [KMTU] : a veth pair between two fresh
# namespaces, for a stack on af_xdp or af_packet: NET_SNS holds NET_SDEV (up,
# no address: the stack's), NET_KNS holds NET_KDEV (KADDR, MTU KMTU). The
# kernel leaves TCP/UDP checksums to a veth's "hardware"; they are filled in
# on the kernel's side, or frames would reach the stack without them.
net_veth_pair() {
	NET_SNS=$(net_ns_new "${1}s")
	NET_KNS=$(net_ns_new "${1}k")
	NET_SDEV=$(net_tag "${1}s")
	NET_KDEV=$(net_tag "${1}k")
	ip -n "$NET_SNS" link add "$NET_SDEV" type veth peer name "$NET_KDEV" netns "$NET_KNS" || fail "veth"
	[ -z "${3:-}" ] || ip -n "$NET_KNS" link set "$NET_KDEV" mtu "$3"
	ip -n "$NET_SNS" link set "$NET_SDEV" up
	ip -n "$NET_KNS" addr add "$2" dev "$NET_KDEV"
	ip -n "$NET_KNS" link set "$NET_KDEV" up
	ip netns exec "$NET_KNS" ethtool -K "$NET_KDEV" tx off >/dev/null || fail "ethtool -K $NET_KDEV tx off"
}

# Wait until interface $2 exists in namespace $1 (empty: this one), up to $3 s.
net_wait_if() {
	local ns=$1 dev=$2 secs=${3:-10} i
	for ((i = 0; i < secs * 20; i++)); do
		if [ -n "$ns" ]; then ip -n "$ns" link show "$dev" >/dev/null 2>&1 && return 0
		else ip link show "$dev" >/dev/null 2>&1 && return 0; fi
		sleep 0.05
	done
	return 1
}

# net_tap_attach NS TAP KADDR/PREFIX : wait for the tap a stack makes when it
# starts (lazily), give its kernel end an address and bring it up.
# The device can vanish and come back while the stack starts (DPDK's port
# set up again), so a failed step waits for it and tries again.
net_tap_attach() {
	local ns=$1 tap=$2 kaddr=$3 i
	for ((i = 0; i < 50; i++)); do
		net_wait_if "$ns" "$tap" 20 || return 1
		ip -n "$ns" addr replace "$kaddr" dev "$tap" 2>/dev/null &&
			ip -n "$ns" link set "$tap" up 2>/dev/null && return 0
		sleep 0.1
	done
	echo "net_tap_attach: $tap kept vanishing" >&2
	return 1
}

# Kill a process and its children at exit.
net_kill_at_exit() { net_cleanup_add "kill -9 $1 2>/dev/null"; }

# Wait until a TCP port answers ($1 ns or empty, $2 addr, $3 port, $4 secs).
net_wait_tcp() {
	local ns=$1 addr=$2 port=$3 secs=${4:-10} i
	local ex=(); [ -n "$ns" ] && ex=(ip netns exec "$ns")
	for ((i = 0; i < secs * 10; i++)); do
		"${ex[@]}" bash -c "exec 3<>/dev/tcp/$addr/$port" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# Offloads off on a device in namespace $1 (empty: this one), so frames cross
# at their wire size (AF_PACKET relays and user-space stacks see no 64 KiB GSO
# frames).
net_no_offload() {
	local ns=$1 dev=$2 ex=()
	[ -n "$ns" ] && ex=(ip netns exec "$ns")
	"${ex[@]}" ethtool -K "$dev" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
}

# A path with faults where the kernel has no netem: build/impair relays frames
# between devices $2 and $3 inside namespace $1, with the faults in the
# remaining arguments (impair's options). Stopped at exit; its statistics go
# to $IMPAIR_LOG (default /dev/null).
net_impair_start() {
	local ns=$1 a=$2 b=$3; shift 3
	net_no_offload "$ns" "$a"; net_no_offload "$ns" "$b"
	ip -n "$ns" link set "$a" up; ip -n "$ns" link set "$b" up
	ip netns exec "$ns" "$DEMI_TOP/build/impair" "$@" "$a" "$b" >>"${IMPAIR_LOG:-/dev/null}" 2>&1 &
	local pid=$!
	net_cleanup_add "kill -TERM $pid; sleep 0.1; kill -9 $pid"
	IMPAIR_PID=$pid
}

# ---- the preload ----

# demi_conf FILE KEY=VALUE... : write a libdemi config (FILE -: stdout).
# A KEY is SECTION.NAME, or one of the usual names alone: device (dpdk);
# address, gateway, mtu (net); listen, connect, udp (bypass); on_error
# (fallback); level (log). Sections are written in the order dpdk, net,
# bypass, fallback, tcp, log, then any other, each key in the order given;
# nothing is added that was not asked for.
#   demi_conf "$T/s.conf" device=tap:$tap address=198.18.7.2/24 listen="80 8080" level=info
demi_conf() {
	local f=$1 kv key sec name order="dpdk net bypass fallback tcp log" s
	shift
	declare -A body=()
	for kv in "$@"; do
		key=${kv%%=*}
		[ "$key" != "$kv" ] || fail "demi_conf: '$kv' is not KEY=VALUE"
		case $key in
		*.*) sec=${key%%.*} name=${key#*.} ;;
		device) sec=dpdk name=$key ;;
		address | gateway | mtu) sec=net name=$key ;;
		listen | connect | udp) sec=bypass name=$key ;;
		on_error) sec=fallback name=$key ;;
		level) sec=log name=$key ;;
		*) fail "demi_conf: '$key' needs its section (SECTION.$key)" ;;
		esac
		[[ " $order " == *" $sec "* ]] || order+=" $sec"
		body[$sec]+="$name = ${kv#*=}"$'\n'
	done
	[ "$f" = - ] && f=/dev/stdout
	{
		for s in $order; do
			[ -z "${body[$s]:-}" ] || printf '[%s]\n%s' "$s" "${body[$s]}"
		done
	} >"$f"
}

# demi_pre [-n NS] CONF : set DEMI_PRE to the command words that run a
# program (in namespace NS) under the preload with config CONF (empty: no
# config at all). "${DEMI_PRE[@]}" prog ... & leaves $! the program itself,
# where a shell function in the background would leave a subshell. The
# library is $DEMI_PRELOAD if set (e.g. with the ASan runtime before it),
# else build/libdemi.so; DEMI_DISABLE from the caller's environment is
# dropped, so a preloaded run is never silently disabled.
demi_pre() {
	local ns=""
	[ "${1:-}" = -n ] && { ns=$2; shift 2; }
	DEMI_PRE=()
	[ -n "$ns" ] && DEMI_PRE=(ip netns exec "$ns")
	DEMI_PRE+=(env -u DEMI_DISABLE -u DEMI_CONFIG LD_PRELOAD="${DEMI_PRELOAD:-$DEMI_LIB}")
	[ -n "${1:-}" ] && DEMI_PRE+=(DEMI_CONFIG="$1")
	return 0
}

# demi_run [-n NS] CONF [VAR=VALUE...] CMD... : run CMD under the preload
# (see demi_pre); returns its status.
demi_run() {
	local DEMI_PRE
	if [ "${1:-}" = -n ]; then demi_pre -n "$2" "$3"; shift 3
	else demi_pre "$1"; shift; fi
	"${DEMI_PRE[@]}" "$@"
}
