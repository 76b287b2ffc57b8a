#!/usr/bin/env bash
# exec keeps the preload: a program that execs with an environment lacking
# LD_PRELOAD and DEMI_CONFIG (execve with its own envp, execv after clearing
# environ, env -i's execvp) still hands both to the new program.
. "$(dirname "$0")/../lib/shim.sh"
need_lib
PY=/usr/bin/python3
[ -x $PY ] || skip "/usr/bin/python3 missing"
shim_write_configs
demi_pre "$SHIM_TMP/nomatch.conf"
pre=("${DEMI_PRE[@]}")

check() { # name output
	echo "$2" | grep -qx "LD_PRELOAD=$DEMI_LIB" || fail "$1: LD_PRELOAD lost: $2"
	echo "$2" | grep -qx "DEMI_CONFIG=$SHIM_TMP/nomatch.conf" || fail "$1: DEMI_CONFIG lost: $2"
	echo "$1: LD_PRELOAD and DEMI_CONFIG kept"
}

out=$("${pre[@]}" $PY -c 'import os; os.execve("/usr/bin/env", ["env"], {"A": "1"})')
echo "$out" | grep -qx "A=1" || fail "execve: the program's own variable is lost: $out"
check "execve with its own envp" "$out"
out=$("${pre[@]}" $PY -c 'import os; os.environ.clear(); os.execv("/usr/bin/env", ["env"])')
check "execv after clearing environ" "$out"
out=$("${pre[@]}" env -i /usr/bin/env)
check "env -i (execvp)" "$out"
out=$("${pre[@]}" bash -c 'unset LD_PRELOAD DEMI_CONFIG; exec /usr/bin/env')
check "bash unset + exec" "$out"
# without the preload nothing is added
out=$(env -u LD_PRELOAD $PY -c 'import os; os.execve("/usr/bin/env", ["env"], {"A": "1"})')
[ "$out" = "A=1" ] || fail "without the preload: $out"
