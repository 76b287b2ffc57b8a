#!/usr/bin/env bash
# RFC 5961's blind attacks over a real device. A python echo server under
# libdemi on a tap; on the tap's kernel end a kernel client streams 19
# chunks of 128 KiB through one connection and reads each echo, while a
# third party on the same segment (an AF_PACKET socket: it learns the
# sequence numbers and the stack's window from the wire) forges segments
# from the client's address. Between the chunks, when the wire is quiet (so
# the stack's answer is seen for what it is), 3 of each kind:
#   rst_in_window             RST inside the receive window, not RCV.NXT
#   syn_in_window             SYN inside the window
#   data_ack_beyond_snd_nxt   data at RCV.NXT whose ACK is beyond SND.NXT
#   data_ack_below_snd_una    data at RCV.NXT whose ACK is below SND.UNA - MAX.SND.WND
#   rst_far, data_far         RST and data 2^30 beyond RCV.NXT
# and in the middle of each chunk but the first, 6 of each: a RST and a SYN
# at the last byte of the window the stack last advertised (in the window and
# not RCV.NXT whatever the chunk has done to RCV.NXT: the peer checks that
# edge lies beyond the chunk's end), and a RST 2^30 beyond RCV.NXT.
# Shown: the stream is byte-exact both ways (nothing forged reached the
# server), the RSTs and SYNs in the window each got a challenge ACK (seen
# on the quiet wire; all 18 in TCP_CHALLENGE_ACKS), the others were counted
# as drops (DROP_TCP_ACK_NEW, DROP_TCP_ACK_OLD, DROP_TCP_RST_OUT_OF_WINDOW,
# DROP_TCP_SEQ), no RST was accepted; then a RST at exactly RCV.NXT resets it (the server's recv
# raises ECONNRESET, TCP_RST_ACCEPTED 1).
. "$(dirname "$0")/../lib/apps.sh"
need_root
[ -x "$PY" ] || skip "$PY missing"
need_lib

ns=$(net_ns_new dba)
tap=$(net_tag dbt)
T=$APPS_TMP
PROG=$DEMI_TOP/tests/apps/blindattack.py
ROUNDS=18 CHUNK=$((128 << 10))
demi_conf "$T/demi.conf" device="tap:$tap" address=198.18.7.2/24 listen=7000 level=info
demi_pre -n "$ns" "$T/demi.conf"
"${DEMI_PRE[@]}" $PY "$PROG" server 7000 >"$T/server.log" 2>&1 &
spid=$!
net_kill_at_exit $spid
net_tap_attach "$ns" "$tap" 198.18.7.1/24 || { apps_logs "$T/server.log"; fail "tap $tap never appeared"; }
net_no_offload "$ns" "$tap" # the observer sees frames at their wire size
# the listener goes on the stack once the stack has started
for ((i = 0; i < 100; i++)); do apps_bypassed "$T/server.log" && break; sleep 0.1; done
apps_bypassed "$T/server.log" || { apps_logs "$T/server.log"; fail "the server's listener is not on the stack"; }

ip netns exec "$ns" timeout 60 $PY "$PROG" peer "$tap" 198.18.7.2 7000 $ROUNDS $CHUNK >"$T/peer.log" 2>&1
prc=$?
cat "$T/peer.log"
[ $prc -eq 0 ] || { apps_logs "$T/server.log"; fail "the peer: exit $prc"; }
for ((i = 0; i < 50; i++)); do grep -q '^END' "$T/server.log" && break; sleep 0.1; done
grep '^END' "$T/server.log" || { apps_logs "$T/server.log"; fail "the server saw no end of its connection"; }

shm=$(ls /dev/shm/demi.$spid.* 2>/dev/null | head -1)
[ -n "$shm" ] || fail "no counters file of the server ($spid)"
ctr() { python3 "$DEMI_TOP/tests/interop/demishm.py" "$shm" "$1" | cut -d= -f2; }
declare -A c
for k in TCP_CHALLENGE_ACKS TCP_CHALLENGE_LIMITED DROP_TCP_ACK_NEW DROP_TCP_ACK_OLD \
	DROP_TCP_RST_OUT_OF_WINDOW DROP_TCP_SEQ TCP_RST_ACCEPTED; do
	c[$k]=$(ctr $k)
	echo "  $k=${c[$k]}"
done

res=$(grep '^RESULT' "$T/peer.log")
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$res"; }
bytes=$(field bytes)
[ "$bytes" = $(((ROUNDS + 1) * CHUNK)) ] || fail "the peer sent $bytes bytes"
# both ways byte-exact: the echo the client read is what it sent, and the
# server read exactly that (no forged byte among it)
[ "$(field ok)" = 1 ] && [ "$(field sent_sha)" = "$(field echo_sha)" ] || fail "the echo differs from what was sent"
grep -q "^END ECONNRESET received=$bytes sha=$(field sent_sha)\$" "$T/server.log" ||
	fail "the server did not read exactly the client's bytes and then ECONNRESET: $(grep '^END' "$T/server.log")"

# the wire: injected/answered per kind
for k in rst_in_window syn_in_window data_ack_beyond_snd_nxt data_ack_below_snd_una data_far; do
	[ "$(field $k)" = 3/3 ] || fail "$k: $(field $k) injected/answered by an ACK on the wire, want 3/3"
done
[ "$(field rst_far)" = 3/0 ] || fail "rst_far: $(field rst_far) injected/answered, want 3/0 (a RST is never answered)"

# the counters: the mid-flow RSTs and SYNs at the window's edge got
# challenge ACKs too, the far RSTs were dropped
for k in mid_rst_edge mid_syn_edge mid_rst_far; do [ "$(field $k)" = 6 ] || fail "$k: $(field $k) forged, want 6"; done
[ "${c[TCP_CHALLENGE_ACKS]}" = 18 ] ||
	fail "TCP_CHALLENGE_ACKS ${c[TCP_CHALLENGE_ACKS]}, want 18 (3+6 RSTs, 3+6 SYNs in the window)"
[ "${c[TCP_CHALLENGE_LIMITED]}" = 0 ] || fail "TCP_CHALLENGE_LIMITED ${c[TCP_CHALLENGE_LIMITED]}"
[ "${c[DROP_TCP_ACK_NEW]}" = 3 ] || fail "DROP_TCP_ACK_NEW ${c[DROP_TCP_ACK_NEW]}, want 3"
[ "${c[DROP_TCP_ACK_OLD]}" = 3 ] || fail "DROP_TCP_ACK_OLD ${c[DROP_TCP_ACK_OLD]}, want 3"
[ "${c[DROP_TCP_RST_OUT_OF_WINDOW]}" = 9 ] || fail "DROP_TCP_RST_OUT_OF_WINDOW ${c[DROP_TCP_RST_OUT_OF_WINDOW]}, want 9 (3+6)"
[ "${c[DROP_TCP_SEQ]}" -ge 3 ] || fail "DROP_TCP_SEQ ${c[DROP_TCP_SEQ]}, want >= 3"
[ "${c[TCP_RST_ACCEPTED]}" = 1 ] || fail "TCP_RST_ACCEPTED ${c[TCP_RST_ACCEPTED]}, want 1 (the RST at RCV.NXT only)"
echo "blind attacks over a tap: $bytes bytes byte-exact both ways through 36 forged segments;" \
	"18 challenge ACKs counted (6 seen answered on a quiet wire), 18 drops counted; a RST at RCV.NXT resets (ECONNRESET)"
