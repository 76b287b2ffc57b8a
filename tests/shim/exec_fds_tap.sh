#!/usr/bin/env bash
# A program whose stack has started execs a child (os.system: posix_spawn,
# which the shim does not see): the child inherits the same fds as one
# spawned before the start. The runtime's own (the tap's queues, memfd,
# epoll, timerfd, pipes) are close-on-exec, so no child keeps the device.
. "$(dirname "$0")/../lib/shim.sh"
need_root
need_lib
PY=/usr/bin/python3
[ -x $PY ] || skip "/usr/bin/python3 missing"
ns=$(net_ns_new dxf)
tap=$(net_tag dxf)
demi_conf "$SHIM_TMP/x.conf" device="tap:$tap" address=198.18.24.2/24 listen=8000 level=info
cat >"$SHIM_TMP/x.py" <<'PY'
import os, socket
def child(name):
    # the fds above 2 an exec'd child holds, by what they are
    os.system("ls -l /proc/self/fd | awk '$9 > 2 && $11 !~ /^\\/proc\\// {print $11}' | sort > %s/%s"
              % (os.environ["OUT"], name))
s = socket.socket()
s.bind(("0.0.0.0", 8000))
s.listen()
child("before")
s.settimeout(0.3)
try:
    s.accept()  # the first wait starts the stack
except socket.timeout:
    pass
child("after")
PY
demi_run -n "$ns" "$SHIM_TMP/x.conf" OUT="$SHIM_TMP" $PY "$SHIM_TMP/x.py" >"$SHIM_TMP/x.log" 2>&1 || { cat "$SHIM_TMP/x.log"; fail "the program failed"; }
[ -f "$SHIM_TMP/after" ] || { cat "$SHIM_TMP/x.log"; fail "no fd list from the child"; }
grep -q "on the stack" "$SHIM_TMP/x.log" || { cat "$SHIM_TMP/x.log"; fail "the listener was not bypassed"; }
grep -q "device tap:$tap" "$SHIM_TMP/x.log" || { cat "$SHIM_TMP/x.log"; fail "no stack"; }
ip -n "$ns" link show "$tap" >/dev/null 2>&1 && fail "the tap outlived the program" || true
if ! diff "$SHIM_TMP/before" "$SHIM_TMP/after" >"$SHIM_TMP/diff"; then
	cat "$SHIM_TMP/diff"
	fail "a child spawned after the stack started inherits the runtime's fds"
fi
echo "children spawned before and after the stack started inherit the same $(wc -l <"$SHIM_TMP/after") fds"
