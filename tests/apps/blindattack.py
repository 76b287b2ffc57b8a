"""The two ends of tests/apps/blind_attack_tap.sh.

  blindattack.py server PORT
      (under the preload) accept one connection and echo it, hashing what it
      receives; when the connection ends prints "END <how> received=N sha=H"
      (how: eof, or the errno name of the error recv raised), then sleeps so
      its counters file can be read.
  blindattack.py peer DEV ADDR PORT ROUNDS CHUNK
      (on the kernel, on the tap's kernel end DEV) a kernel TCP client that
      sends ROUNDS + 1 chunks of CHUNK known bytes and reads each one's
      echo, and an off-path third party: an AF_PACKET socket on DEV that
      learns the connection's sequence numbers and the stack's window from
      what it sees on the wire and forges segments from the client's address
      (RFC 5961's blind attacks): in the middle of each round after the
      first (MID_KINDS), and between the rounds, when the wire is quiet
      (KINDS), each of these followed by a look at what the stack sent back.
      Last, a RST at exactly RCV.NXT, which must reset the connection.
      Prints one "inject KIND ..." line per forged segment and a RESULT line.
"""
import errno
import hashlib
import os
import random
import selectors
import socket
import struct
import sys
import time

FORGED_ID = 0xBEEF  # IPv4 identification of forged frames: the sniffer skips them
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def server(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(4)
    print("listening", flush=True)
    c, _ = ls.accept()
    h, n, how = hashlib.sha256(), 0, "eof"
    try:
        while True:
            d = c.recv(1 << 16)
            if not d:
                break
            h.update(d)
            n += len(d)
            c.sendall(d)
    except OSError as e:
        how = errno.errorcode.get(e.errno, str(e.errno))
    print(f"END {how} received={n} sha={h.hexdigest()}", flush=True)
    time.sleep(60)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


class Wire:
    """What an observer on the tap's segment learns of one connection."""

    def __init__(self, dev, saddr, sport):
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        # room for every frame of a round: a frame dropped here would leave
        # the observer's sequence numbers behind
        self.s.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE
        self.s.bind((dev, 0))
        self.s.setblocking(False)
        self.saddr, self.sport = socket.inet_aton(saddr), sport
        self.cport = None
        self.cli_nxt = self.srv_nxt = None  # next seq of each side, as seen
        self.wnd = 0
        self.edge = None  # the right edge of the stack's receive window: SEG.ACK + SEG.WND
        self.wscale = 0
        self.cmac = self.smac = self.caddr = None
        self.replies = []  # (time, seq, ack, flags, len) from the stack

    def drain(self):
        while True:
            try:
                f = self.s.recv(65536)
            except BlockingIOError:
                return
            self.frame(f)

    def frame(self, f):
        if len(f) < 54 or f[12:14] != b"\x08\x00" or f[23] != 6:
            return
        ihl = (f[14] & 15) * 4
        if struct.unpack("!H", f[18:20])[0] == FORGED_ID:
            return
        ip, tcp = f[14:], f[14 + ihl:]
        tot = struct.unpack("!H", ip[2:4])[0]
        sp, dp, seq, ack = struct.unpack("!HHII", tcp[:12])
        off, flags, wnd = (tcp[12] >> 4) * 4, tcp[13], struct.unpack("!H", tcp[14:16])[0]
        plen = tot - ihl - off
        end = (seq + plen + (1 if flags & (SYN | FIN) else 0)) & 0xFFFFFFFF
        if ip[16:20] == self.saddr and dp == self.sport and (self.cport is None or sp == self.cport):
            self.cport, self.caddr, self.cmac, self.smac = sp, ip[12:16], f[6:12], f[0:6]
            self.cli_nxt = end if self.cli_nxt is None or seq_gt(end, self.cli_nxt) else self.cli_nxt
        elif ip[12:16] == self.saddr and sp == self.sport and dp == self.cport:
            if flags & SYN:
                self.wscale = tcp_wscale(tcp[20:off])
                wnd_val = wnd
            else:
                wnd_val = wnd << self.wscale
            self.wnd = wnd_val
            if flags & ACK and not flags & SYN:
                e = (ack + wnd_val) & 0xFFFFFFFF
                self.edge = e if self.edge is None or seq_gt(e, self.edge) else self.edge
            self.srv_nxt = end if self.srv_nxt is None or seq_gt(end, self.srv_nxt) else self.srv_nxt
            self.replies.append((time.monotonic(), seq, ack, flags, plen))

    def forge(self, seq, ack, flags, payload=b""):
        tcp = struct.pack("!HHIIBBHHH", self.cport, self.sport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                          5 << 4, flags, 65535, 0, 0) + payload
        ph = self.caddr + self.saddr + struct.pack("!BBH", 0, 6, len(tcp))
        tcp = tcp[:16] + struct.pack("!H", csum(ph + tcp)) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), FORGED_ID, 0x4000, 64, 6, 0,
                         self.caddr, self.saddr)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        self.s.send(self.smac + self.cmac + b"\x08\x00" + ip + tcp)


def seq_gt(a, b):
    return 0 < ((a - b) & 0xFFFFFFFF) < 0x80000000


def tcp_wscale(opts):
    i = 0
    while i < len(opts):
        k = opts[i]
        if k == 0:
            break
        if k == 1:
            i += 1
            continue
        if i + 1 >= len(opts):
            break
        if k == 3 and opts[i + 1] == 3:
            return opts[i + 2]
        i += max(opts[i + 1], 2)
    return 0


# kind: (what it is, expected answer from the stack: "ack" or None)
KINDS = ["rst_in_window", "syn_in_window", "data_ack_beyond_snd_nxt", "data_ack_below_snd_una",
         "rst_far", "data_far"]

# forged while the round's data flows: a RST and a SYN at the last byte of the
# window the stack last advertised (still in the window, and not RCV.NXT, when
# that edge is beyond where the round can take RCV.NXT: checked), a RST far
# beyond it
MID_KINDS = ["mid_rst_edge", "mid_syn_edge", "mid_rst_far"]


def inject(w, kind):
    """Forge one segment of KIND from what the wire showed; returns its seq."""
    rn, sn, win = w.cli_nxt, w.srv_nxt, w.wnd
    if win < 4:
        raise SystemExit(f"RESULT ok=0 error=window {win} too small to aim into")
    junk = b"INJECTED-" * 10
    if kind == "rst_in_window":  # RFC 5961 §3: in the window, not RCV.NXT
        seq = rn + win // 2
        w.forge(seq, 0, RST)
    elif kind == "syn_in_window":  # §4
        seq = rn + win // 3
        w.forge(seq, 0, SYN)
    elif kind == "data_ack_beyond_snd_nxt":  # §5: SEG.ACK > SND.NXT
        seq = rn
        w.forge(seq, sn + 0x10000000, ACK | PSH, junk)
    elif kind == "data_ack_below_snd_una":  # §5: SEG.ACK < SND.UNA - MAX.SND.WND
        seq = rn
        w.forge(seq, sn - 0x40000000, ACK | PSH, junk)
    elif kind == "rst_far":
        seq = rn + 0x40000000
        w.forge(seq, 0, RST)
    elif kind == "data_far":
        seq = rn + 0x40000000
        w.forge(seq, sn, ACK | PSH, junk)
    elif kind == "mid_rst_edge":  # while data flows: the window's last byte
        seq = w.edge - 1
        w.forge(seq, 0, RST)
    elif kind == "mid_syn_edge":
        seq = w.edge - 1
        w.forge(seq, 0, SYN)
    elif kind == "mid_rst_far":
        seq = rn + 0x40000000
        w.forge(seq, 0, RST)
    elif kind == "rst_exact":
        seq = rn
        w.forge(seq, 0, RST)
    return seq & 0xFFFFFFFF


def peer(dev, addr, port, rounds, chunk):
    w = Wire(dev, addr, port)
    rng = random.Random(5961)
    s = socket.create_connection((addr, port), timeout=10)
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sent_h, got_h = hashlib.sha256(), hashlib.sha256()
    total = 0
    plan = [KINDS[i % len(KINDS)] for i in range(rounds)]
    answered = {k: 0 for k in KINDS}
    injected = {k: 0 for k in KINDS}
    mid = {k: 0 for k in MID_KINDS}
    for r in range(-1, rounds):  # round -1 warms up: nothing forged
        data = rng.randbytes(chunk)
        sent_h.update(data)
        total += len(data)
        out, got = 0, 0
        w.drain()
        start = w.cli_nxt  # RCV.NXT now; the round moves it at most chunk bytes
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
        t0 = time.monotonic()
        while got < chunk:
            if time.monotonic() - t0 > 10:
                print(f"RESULT ok=0 error=stalled round={r} out={out} got={got}", flush=True)
                return 1
            for _, ev in sel.select(0.5):
                if ev & selectors.EVENT_WRITE and out < chunk:
                    half = out < chunk // 2
                    out += s.send(data[out:out + 65536])
                    if half and out >= chunk // 2 and r >= 0:
                        # half the round is on its way: forge one mid-flow
                        # segment (one whose fate does not depend on how far
                        # RCV.NXT has moved meanwhile)
                        w.drain()
                        if w.edge is None or not seq_gt(w.edge - 1, start + chunk):
                            print(f"RESULT ok=0 error=no window edge beyond {start}+{chunk}: {w.edge}")
                            return 1
                        k = MID_KINDS[r % len(MID_KINDS)]
                        print(f"inject {k} seq={inject(w, k)} (mid-flow)", flush=True)
                        mid[k] += 1
                    if out == chunk:
                        sel.modify(s, selectors.EVENT_READ)
                if ev & selectors.EVENT_READ:
                    d = s.recv(1 << 16)
                    if not d:
                        print(f"RESULT ok=0 error=eof round={r} got={got}", flush=True)
                        return 1
                    got_h.update(d)
                    got += len(d)
            w.drain()
        sel.unregister(s)
        if r < 0:
            continue
        # the round's echo is in: let the last ACKs cross, then attack
        time.sleep(0.03)
        w.drain()
        kind = plan[r]
        w.replies.clear()
        rn, sn = w.cli_nxt, w.srv_nxt
        t_inj = time.monotonic()
        seq = inject(w, kind)
        injected[kind] += 1
        # what the stack sends within 150 ms: an ACK at (SND.NXT, RCV.NXT)
        ans = None
        while time.monotonic() - t_inj < 0.15:
            time.sleep(0.005)
            w.drain()
            for t, rs, ra, fl, pl in w.replies:
                if fl & ACK and not fl & (RST | SYN | FIN) and pl == 0 and rs == sn and ra == rn:
                    ans = (t - t_inj) * 1000
                    break
            if ans is not None:
                break
        if ans is not None:
            answered[kind] += 1
        print(f"inject {kind} seq={seq} rcv_nxt={rn} snd_nxt={sn} wnd={w.wnd} "
              f"answer={'ack after %.1f ms' % ans if ans is not None else 'none'}", flush=True)
    echo_ok = sent_h.hexdigest() == got_h.hexdigest()
    # the control: a RST at exactly RCV.NXT
    time.sleep(0.03)
    w.drain()
    seq = inject(w, "rst_exact")
    print(f"inject rst_exact seq={seq} rcv_nxt={w.cli_nxt}", flush=True)
    time.sleep(0.3)
    print(" ".join(["RESULT", f"ok={int(echo_ok)}", f"bytes={total}", f"sent_sha={sent_h.hexdigest()}",
                    f"echo_sha={got_h.hexdigest()}"] +
                   [f"{k}={injected[k]}/{answered[k]}" for k in KINDS] +
                   [f"{k}={mid[k]}" for k in MID_KINDS]), flush=True)
    s.close()
    return 0 if echo_ok else 1


def main():
    if sys.argv[1] == "server":
        return server(int(sys.argv[2]))
    return peer(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))


if __name__ == "__main__":
    sys.exit(main())
