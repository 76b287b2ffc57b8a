#!/usr/bin/env bash
# The files a dead process leaves in /dev/shm (counters demi.PID.N, fd record
# demi.PID.fds) are removed by the next process under the preload that has
# the right to: root removes those of any user (nginx's workers run as
# nobody), and files of a live process stay.
. "$(dirname "$0")/../lib/net.sh"
need_root
need_lib
need_cmd python3 setpriv
tmp=$(mktemp -d /tmp/demi-reclaim.XXXXXX)
net_cleanup_add "rm -rf $tmp"

# a dead pid: a process that has exited (not reused within the test)
sh -c 'echo $$' >"$tmp/pid"; dead=$(cat "$tmp/pid")
kill -0 "$dead" 2>/dev/null && fail "pid $dead still alive"
sleep 300 &
live=$!
net_kill_at_exit "$live"
files=()
for p in "$dead" "$live"; do
	for f in 0 fds; do
		path=/dev/shm/demi.$p.$f
		echo stale >"$path"; chmod 600 "$path"; chown nobody "$path"
		net_cleanup_add "rm -f $path"
		files+=("$path")
	done
done

# a process with a bypass configuration opens a socket: it publishes its fd
# record and, first, reclaims (the device is never started)
demi_conf "$tmp/demi.conf" device=tap:nonexist0 address=198.18.12.2/24 connect=198.18.12.0/24
chmod 755 "$tmp"; chmod 644 "$tmp/demi.conf"
demi_run "$tmp/demi.conf" python3 -c 'import socket; socket.socket()' ||
	fail "the program under the preload failed"
for f in 0 fds; do
	[ ! -e "/dev/shm/demi.$dead.$f" ] || fail "demi.$dead.$f of a dead process (owned by nobody) left behind"
	[ -e "/dev/shm/demi.$live.$f" ] || fail "demi.$live.$f of a live process removed"
done

# a user may not remove another user's files: nobody's run leaves root's.
# nobody loads a copy of the libraries: the checkout may sit in a folder
# only root can enter (a CI clone under a mode-700 temporary folder)
mkdir -p "$tmp/lib"
cp "$DEMI_LIB" "$tmp/lib/"
[ -f "$(dirname "$DEMI_LIB")/libdemi-stack.so" ] && cp "$(dirname "$DEMI_LIB")/libdemi-stack.so" "$tmp/lib/"
chmod -R a+rX "$tmp/lib"
NOBODY_LIB=$tmp/lib/$(basename "$DEMI_LIB")
for f in 0 fds; do echo stale >"/dev/shm/demi.$dead.$f"; chmod 600 "/dev/shm/demi.$dead.$f"; done
DEMI_CONFIG=$tmp/demi.conf LD_PRELOAD=$NOBODY_LIB setpriv --reuid=nobody --regid=nogroup --clear-groups \
	/usr/bin/python3 -c 'import socket; socket.socket()' 2>"$tmp/nobody.err"
grep -q "cannot be preloaded" "$tmp/nobody.err" && { cat "$tmp/nobody.err"; fail "nobody ran without the preload"; }
for f in 0 fds; do
	[ -e "/dev/shm/demi.$dead.$f" ] || { cat "$tmp/nobody.err"; fail "nobody removed root's demi.$dead.$f"; }
done
# and its own files it does remove
chown nobody "/dev/shm/demi.$dead.0" "/dev/shm/demi.$dead.fds"
DEMI_CONFIG=$tmp/demi.conf LD_PRELOAD=$NOBODY_LIB setpriv --reuid=nobody --regid=nogroup --clear-groups \
	/usr/bin/python3 -c 'import socket; socket.socket()' 2>>"$tmp/nobody.err"
for f in 0 fds; do
	[ ! -e "/dev/shm/demi.$dead.$f" ] || { cat "$tmp/nobody.err"; fail "nobody left its own dead demi.$dead.$f"; }
done
# a stack started without the shim (build/demi-echo) reclaims at its start
ns=$(net_ns_new drc)
for f in 0 fds; do
	echo stale >"/dev/shm/demi.$dead.$f"; chmod 600 "/dev/shm/demi.$dead.$f"; chown nobody "/dev/shm/demi.$dead.$f"
done
ip netns exec "$ns" "$DEMI_TOP/build/demi-echo" -d "tap:$(net_tag drct)" -a 198.18.12.2/24 -t 1 server tcp 7 \
	>"$tmp/echo.log" 2>&1
grep -q "listening" "$tmp/echo.log" || { cat "$tmp/echo.log"; fail "demi-echo did not start its stack"; }
for f in 0 fds; do
	[ ! -e "/dev/shm/demi.$dead.$f" ] || fail "a starting stack left demi.$dead.$f of a dead process (owned by nobody)"
	[ -e "/dev/shm/demi.$live.$f" ] || fail "a starting stack removed demi.$live.$f of a live process"
done
echo "shm reclaim: dead processes' files removed (any user's as root, own as a user; by the shim and by a starting stack), live ones kept"
