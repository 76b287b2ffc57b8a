#!/usr/bin/env python3
"""Writes the hand-made seed corpora of the fuzzers.
stack: short operation sequences in fuzz_stack.c's encoding (see op_* there),
each a scenario a hostile or merely unusual peer plays.
wire: IPv4 packets (TCP with each option layout, UDP, ICMP), ARP packets and
Ethernet frames, well formed and subtly not, for fuzz_wire.c.
libFuzzer mutates from these. The corpus also holds regress-* files:
inputs the fuzzer found that once showed a bug, kept by hand.
    tests/fuzz/seeds.py [tests/fuzz/corpus]"""
import os
import struct
import sys

P0, P1, P2, P6 = 0, 1, 2, 6  # peer port indices: 40000 (established), 40001 (active open), 40100,
# 40002 (active open from an ephemeral port)
F, S, R, PSH, A, U = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20


def b8(v):
    return bytes([v & 0xff])


def b16(v):
    return struct.pack(">H", v & 0xffff)


def b32(v):
    return struct.pack(">I", v & 0xffffffff)


# seq choices (rel_rcv): where our byte goes relative to what the stack acked
def SEQ_IN():
    return b8(0)


def SEQ_AHEAD(n):
    return b8(3) + b16(n)


def SEQ_BACK(n):
    return b8(4) + b16(n)


def SEQ_NEAR(d):
    return b8(5) + b8(d)


def SEQ_RAW(v):
    return b8(6) + b32(v)


# ack choices (rel_snd): relative to what the stack sent
def ACK_ALL():
    return b8(0)


def ACK_PART(back):
    return b8(2) + b16(back)


def ACK_NEAR(d):
    return b8(3) + b8(d)


def ACK_DUP():
    return b8(1)


def ACK_UNA_PLUS(n):
    return b8(5) + b16(n)


def ACK_FROM_ISS(n):
    return b8(4) + b16(n)


def ACK_BEYOND(n):
    return b8(7) + b16(n)


def OPT_NONE():
    return b8(0)


def OPT_TS():
    return b8(1) + b8(0) + b8(0)


def OPT_SET(has, mss=1460, ws=7, sacks=()):
    out = b8(2) + b8(has) + b16(mss) + b8(ws) + b8(0) + b8(len(sacks))
    for start, length in sacks:
        out += start + b8(1) + b16(length)
    return out


def OPT_RAW(raw):
    return b8(3) + b8(len(raw)) + raw


def LEN_NONE():
    return b8(0)


def LEN_SMALL(n):
    return b8(1) + b8(n)


def LEN_FULL():
    return b8(2)


def LEN_ANY(n):
    return b8(3) + b16(n)


def tcp(port, flags, seq, ack, opts=None, length=None, wnd=None, urp=None, mutate=None):
    out = b8(0) + b8(port) + b8(flags) + seq + ack
    out += b8(1) + b16(wnd) if wnd is not None else b8(0)
    if flags & U:
        out += b16(urp or 0)
    out += opts if opts is not None else OPT_TS()
    out += mutate if mutate is not None else b8(0)
    out += length if length is not None else LEN_NONE()
    return out


def mut(ipfuzz, kind, v, off=None):
    """0xff: mutations follow: IP layer choice, frame mutation, data offset."""
    out = b8(0xff) + ipfuzz + b8(kind) + b32(v)
    out += b8(1) + b8(off) if off is not None else b8(0)
    return out


def data(n, fin=False, psh=True, wnd=None):
    sel = (0x80 if psh else 0) | (0x40 if fin else 0) | (0x10 if wnd is not None else 0)
    out = b8(5) + b8(sel)
    if wnd is not None:
        out += b16(wnd)
    return out + b16(n)


def clock_us(n):
    return b8(10) + b8(0) + b16(n)


def clock_ms(n):
    return b8(10) + b8(1) + b16(n)


def clock_10s(n):
    return b8(10) + b8(2) + b8(n)


def clock_timer():
    return b8(10) + b8(3)


def app(op, sock, *args):
    return b8(12) + b8(op) + b8(sock) + b"".join(args)


def app_read(sock, n=65535):
    return app(0, sock, b16(n))


def app_write(sock, n):
    return app(3, sock, b16(n))


def app_accept():
    return app(4, 1)


def udp(payload, port=None, flags=0):
    out = b8(6) + b8(flags | (1 if port is not None else 0)) + b16(1234)
    if port is not None:
        out += b16(port)
    return out + b16(len(payload)) + payload + b32(0)


def icmp_quote(type_code_sel, port, rest, udp_flow=False):
    # m: type from the table (0: unreachable), code needfrag (bit 3 clear)
    out = b8(7) + b8(type_code_sel) + b32(rest)
    out += b8(port) + b8(1 if udp_flow else 0) + b8(0) + b8(0) + b8(0)
    if udp_flow:
        out += b16(40000)
    out += ACK_ALL()
    return out + b8(0)


def arp(m, spa, tpa):
    return b8(8) + b8(m) + b8(spa) + b8(tpa)


def raw(m, payload):
    return b8(9) + b8(m) + b16(len(payload)) + payload


def handshake(port, has=0x0f):
    syn = tcp(port, S, SEQ_IN(), ACK_ALL(), OPT_SET(has))
    ack = tcp(port, A, SEQ_IN(), ACK_ALL())
    return syn + ack


SACK_OK_TS = 0x0c
MSS1 = 1448


def sack_dupacks(n):
    """n duplicate ACKs, each SACKing one more segment past a lost one"""
    return b"".join(tcp(P0, A, SEQ_IN(), ACK_DUP(), OPT_SET(0x18, sacks=[(ACK_UNA_PLUS(MSS1), MSS1 * (k + 1))]))
                    for k in range(n))


def syn_flood(n):
    return b"".join(tcp(0xf0, S, SEQ_RAW(i * 7919), ACK_ALL(), OPT_NONE())[:2] + b16(50000 + i)
                    + tcp(0xf0, S, SEQ_RAW(i * 7919), ACK_ALL(), OPT_NONE())[2:] for i in range(n))


SEEDS = {
    "data-in-order": data(1000) + app_read(0),
    "data-fin": data(500, fin=True) + app_read(0) + app_read(0) + app(7, 0),
    "ack-all": tcp(P0, A, SEQ_IN(), ACK_ALL()) + app_write(0, 8000) + tcp(P0, A, SEQ_IN(), ACK_ALL()),
    "dupacks-sack": b"".join(
        tcp(P0, A, SEQ_IN(), ACK_PART(2896), OPT_SET(0x18, sacks=[(ACK_PART(1448), 1448)]))
        for _ in range(4)) + clock_timer(),
    "rst-in-window": tcp(P0, R, SEQ_NEAR(10), ACK_NEAR(0)) + tcp(P0, R, SEQ_IN(), ACK_ALL()),
    "rst-out-of-window": tcp(P0, R | A, SEQ_AHEAD(0xf000), ACK_ALL()) + app_read(0),
    "syn-on-established": tcp(P0, S, SEQ_BACK(5000), ACK_ALL(), OPT_SET(0x0f)),
    "new-conn": handshake(P2) + app_accept() + tcp(P2, A | PSH, SEQ_IN(), ACK_ALL(), length=LEN_SMALL(200))
    + app_read(1) + app_write(1, 3000) + app(7, 1),
    "data-before-accept": handshake(P2) + tcp(P2, A | PSH, SEQ_IN(), ACK_ALL(), length=LEN_SMALL(200))
    + app_accept() + app_read(1),
    "active-open-synack": tcp(P1, S | A, SEQ_IN(), ACK_ALL(), OPT_SET(0x0f))
    + tcp(P1, A, SEQ_IN(), ACK_ALL(), length=LEN_SMALL(100)) + app_read(9) + app_write(9, 2000),
    "active-open-rst": tcp(P1, R | A, SEQ_IN(), ACK_ALL()),
    "active-open-simultaneous": tcp(P1, S, SEQ_IN(), ACK_ALL(), OPT_SET(0x0f)),
    "zero-window-persist": tcp(P0, A, SEQ_IN(), ACK_PART(1448), wnd=0) + app_write(0, 5000)
    + clock_timer() + clock_timer() + clock_timer() + tcp(P0, A, SEQ_IN(), ACK_ALL(), wnd=1000),
    "rto-until-dead": b"".join(clock_timer() for _ in range(20)),
    "out-of-order": tcp(P0, A, SEQ_AHEAD(1000), ACK_ALL(), length=LEN_ANY(500))
    + tcp(P0, A, SEQ_AHEAD(3000), ACK_ALL(), length=LEN_ANY(500))
    + tcp(P0, A, SEQ_IN(), ACK_ALL(), length=LEN_ANY(1000)) + app_read(0),
    "overlap": tcp(P0, A, SEQ_IN(), ACK_ALL(), length=LEN_ANY(800))
    + tcp(P0, A, SEQ_BACK(400), ACK_ALL(), length=LEN_ANY(1200)) + app_read(0),
    "beyond-window": tcp(P0, A, SEQ_AHEAD(0x8000), ACK_ALL(), length=LEN_FULL()),
    # in SYN-RECEIVED, an ACK past SND.NXT must draw a RST (RFC 9293 3.10.7.4);
    # 40102's ISS is above 2^31, which once left snd_max at 0 and let it in
    "synrcvd-ack-beyond-snd-nxt": tcp(4, S, SEQ_IN(), ACK_ALL(), OPT_NONE(), length=LEN_FULL())
    + tcp(4, A | F, SEQ_IN(), ACK_BEYOND(101)),
    "ack-beyond-snd-nxt": tcp(P0, A, SEQ_IN(), ACK_BEYOND(5000)),
    "ack-old": tcp(P0, A, SEQ_IN(), ACK_FROM_ISS(0)),
    "urgent": tcp(P0, A | U | PSH, SEQ_IN(), ACK_ALL(), urp=3, length=LEN_SMALL(10)) + app_read(0),
    "udp-bound": udp(b"hello") + app(12, 0, b16(100), b16(0)),
    "udp-closed-port": udp(b"x" * 40, port=9),
    "udp-no-cksum": udp(b"abc", flags=4) + app(12, 0, b16(100), b16(0)),
    "udp-send": app(12 | 0x10, 0, b16(100), b16(40000)),
    "icmp-needfrag": icmp_quote(0, P0, 576) + app_write(0, 4000),
    "icmp-echo": b8(7) + b8(0x22) + b32(0x00010001) + b16(8) + b"pingping" + b8(0),
    "icmp-port-unreach-udp": icmp_quote(0x08, 0, 0, udp_flow=True),
    "arp-request": arp(1, 0, 1),
    "arp-reply": arp(2, 0, 1),
    "arp-conflict": arp(1, 1, 1),
    "raw-garbage": raw(0, bytes(range(60))) + raw(1, b"\x00" * 12 + b"\x08\x00" + b"\x45" * 40),
    "ip-options": tcp(P0, A, SEQ_IN(), ACK_ALL(), mutate=mut(b8(1) + b8(2) + b"\x94\x04\x00\x00\x01\x01\x01\x00", 0, 0),
                      length=LEN_SMALL(20)),
    "ip-fragment": tcp(P0, A, SEQ_IN(), ACK_ALL(), mutate=mut(b8(2) + b16(0x2000), 0, 0), length=LEN_SMALL(20)),
    "bad-cksum": tcp(P0, A, SEQ_IN(), ACK_ALL(), mutate=mut(b8(0), 1, 5), length=LEN_SMALL(20)),
    "bad-data-offset": tcp(P0, A, SEQ_IN(), ACK_ALL(), mutate=mut(b8(0), 0, 0, off=15), length=LEN_SMALL(8)),
    "land": tcp(P2, S, SEQ_IN(), ACK_ALL(), mutate=mut(b8(3) + b8(0), 0, 0)),
    "syn-from-subnet-broadcast": tcp(P2, S, SEQ_IN(), ACK_ALL(), mutate=mut(b8(3) + b8(4), 0, 0)),
    "udp-from-multicast": udp(b"x" * 20, port=9, flags=2)[:0] + b8(6) + b8(3) + b16(1234) + b16(9) + b16(20)
    + b8(3) + b8(3) + b"x" * 20 + b32(0),
    "echo-from-broadcast": b8(7) + b8(0x32) + b32(0x00010001) + b16(8) + b"pingping" + b8(3) + b8(1) + b8(0),
    "options-raw": tcp(P0, A, SEQ_IN(), ACK_ALL(), OPT_RAW(b"\x02\x04\x00\x00\x03\x03\x0e\x05\x0a" + b"\x00" * 8)),
    "close-unread": data(100) + app(7, 0),
    "shutdown-then-fin": app(5, 0) + tcp(P0, A, SEQ_IN(), ACK_ALL()) + data(0, fin=True)
    + clock_10s(10),
    "keepalive": app(11, 0, b8(0)) + tcp(P0, A, SEQ_IN(), ACK_ALL()) + clock_timer() + clock_timer()
    + clock_timer(),
    "small-rcvbuf": app(8, 0, b16(1000)) + data(1448) + data(1448) + data(1448) + app_read(0, 100),
    "syn-flood": syn_flood(20),
    "syn-cookie": syn_flood(17) + handshake(P2) + app_accept() + tcp(P2, A, SEQ_IN(), ACK_ALL(), length=LEN_SMALL(50))
    + app_read(1),
    "sack-recovery": tcp(P0, A, SEQ_IN(), ACK_UNA_PLUS(MSS1)) + sack_dupacks(3) + tcp(P0, A, SEQ_IN(), ACK_ALL())
    + clock_timer(),
    "sack-partial-acks": sack_dupacks(4) + tcp(P0, A, SEQ_IN(), ACK_UNA_PLUS(MSS1)) + sack_dupacks(2)
    + clock_timer() + tcp(P0, A, SEQ_IN(), ACK_ALL()),
    "reno-recovery": handshake(P2, 0x0b) + app_accept() + app_write(1, 30000)
    + b"".join(tcp(P2, A, SEQ_IN(), ACK_DUP(), OPT_TS()) for _ in range(4))
    + tcp(P2, A, SEQ_IN(), ACK_UNA_PLUS(MSS1)) + tcp(P2, A, SEQ_IN(), ACK_ALL()),
    "ephemeral-connect": app(7, 9) + app(14, 0)
    + tcp(P6, S | A, SEQ_IN(), ACK_ALL(), OPT_SET(0x0f)) + tcp(P6, A | PSH, SEQ_IN(), ACK_ALL(), length=LEN_SMALL(99))
    + app_read(9) + app_write(9, 5000) + tcp(P6, A | F, SEQ_IN(), ACK_ALL()),
    "udp-arp-resolve": app(12 | 0x10 | 0x20, 0, b16(100), b16(9)) + arp(2, 2, 1),
    "udp-arp-timeout": app(12 | 0x10 | 0x20, 0, b16(100), b16(9)) + app(12 | 0x10 | 0x20, 0, b16(10), b16(9))
    + b"".join(clock_timer() for _ in range(6)) + app(12 | 0x10 | 0x20, 0, b16(10), b16(9)),
    "udp-off-subnet": app(12 | 0x10 | 0x40, 0, b16(100), b16(9)),
    "rto-then-acks": clock_timer() + clock_timer() + tcp(P0, A, SEQ_IN(), ACK_UNA_PLUS(MSS1))
    + tcp(P0, A, SEQ_IN(), ACK_ALL()),
    "time-wait": data(0, fin=True) + app(7, 0) + tcp(P0, A, SEQ_IN(), ACK_ALL()) + clock_timer()
    + handshake(P0),
}


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(">%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ipv4(proto, l4, src=0xc6120001, dst=0xc6120002, opts=b"", frag=0x4000, pad=b""):
    ihl = 5 + len(opts) // 4
    h = struct.pack(">BBHHHBBHII", 0x40 | ihl, 0, ihl * 4 + len(l4), 0x1234, frag, 64, proto, 0, src, dst) + opts
    h = h[:10] + b16(csum(h)) + h[12:]
    return h + l4 + pad


def pseudo(src, dst, proto, n):
    return struct.pack(">IIBBH", src, dst, 0, proto, n)


def tcpseg(flags, opts=b"", payload=b"", seq=1000, ack=2000, src=0xc6120001, dst=0xc6120002):
    h = struct.pack(">HHIIBBHHH", 40000, 80, seq, ack, (5 + len(opts) // 4) << 4, flags, 65535, 0, 0) + opts
    seg = h + payload
    c = csum(pseudo(src, dst, 6, len(seg)) + seg)
    return seg[:16] + b16(c) + seg[18:]


def udpdg(payload, src=0xc6120001, dst=0xc6120002):
    d = struct.pack(">HHHH", 1234, 5353, 8 + len(payload), 0) + payload
    c = csum(pseudo(src, dst, 17, len(d)) + d) or 0xffff
    return d[:6] + b16(c) + d[8:]


def icmpmsg(t, code, rest, body):
    m = struct.pack(">BBHI", t, code, 0, rest) + body
    return m[:2] + b16(csum(m)) + m[4:]


def arppkt(op, spa, tpa):
    return struct.pack(">HHBBH6sI6sI", 1, 0x0800, 6, 4, op, b"\x02\0\0\0\0\x01", spa, b"\0" * 6, tpa)


MSS = b"\x02\x04\x05\xb4"
WS = b"\x01\x03\x03\x07"
SACKOK_TS = b"\x04\x02\x08\x0a" + b32(100) + b32(0)
NOP_TS = b"\x01\x01\x08\x0a" + b32(100) + b32(7)


def sack(n):
    return b"\x01\x01\x05" + b8(2 + 8 * n) + b"".join(b32(5000 + 3000 * i) + b32(6000 + 3000 * i) for i in range(n))


ETH = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01"
WIRE = {
    "tcp-syn-linux": ipv4(6, tcpseg(S, MSS + SACKOK_TS + WS)),
    "tcp-syn-nots": ipv4(6, tcpseg(S, MSS + b"\x01\x01\x04\x02" + WS)),
    "tcp-ack-ts": ipv4(6, tcpseg(A, NOP_TS, b"hello")),
    "tcp-sack-1": ipv4(6, tcpseg(A, NOP_TS + sack(1))),
    "tcp-sack-3": ipv4(6, tcpseg(A, NOP_TS + sack(2) + b"\x01\x01\x01\x01")),
    "tcp-sack-4": ipv4(6, tcpseg(A, sack(4) + b"\x01\x01")),
    "tcp-opt-eol": ipv4(6, tcpseg(A, b"\x00" * 4)),
    "tcp-opt-unknown": ipv4(6, tcpseg(A, b"\x1e\x06abcd\x01\x01")),
    "tcp-opt-badlen": ipv4(6, tcpseg(A, b"\x02\x05\x05\xb4")),
    "tcp-opt-zero-len": ipv4(6, tcpseg(A, b"\x1e\x00\x00\x00")),
    "tcp-opt-past-end": ipv4(6, tcpseg(A, b"\x01\x01\x08\x0b")),
    "tcp-ws-15": ipv4(6, tcpseg(S, b"\x03\x03\x0f\x00")),
    "tcp-max-opts": ipv4(6, tcpseg(S, MSS + SACKOK_TS + WS + b"\x01" * 20)),
    "tcp-data": ipv4(6, tcpseg(A | PSH, NOP_TS, bytes(range(200)))),
    "tcp-odd-len": ipv4(6, tcpseg(A, b"", b"abc")),
    "tcp-ip-options": ipv4(6, tcpseg(A), opts=b"\x94\x04\0\0"),
    "tcp-ip-padding": ipv4(6, tcpseg(A), pad=b"\0" * 6),
    "tcp-fragment": ipv4(6, tcpseg(A, b"", b"x" * 16), frag=0x2000),
    "udp": ipv4(17, udpdg(b"query")),
    "udp-zero-cksum": ipv4(17, udpdg(b"q")[:6] + b"\0\0" + b"q"),
    "udp-len-short": ipv4(17, struct.pack(">HHHH", 1, 2, 6, 0)),
    "udp-len-long": ipv4(17, struct.pack(">HHHH", 1, 2, 60, 0) + b"x" * 8),
    "icmp-echo": ipv4(1, icmpmsg(8, 0, 0x10001, b"ping" * 8)),
    "icmp-needfrag": ipv4(1, icmpmsg(3, 4, 576, ipv4(6, tcpseg(A), src=0xc6120002, dst=0xc6120001)[:28])),
    "icmp-odd": ipv4(1, icmpmsg(0, 0, 1, b"abc")),
    "arp-request": arppkt(1, 0xc6120001, 0xc6120002),
    "arp-reply": arppkt(2, 0xc6120001, 0xc6120002),
    "eth-arp": ETH + b"\x08\x06" + arppkt(1, 0xc6120001, 0xc6120002),
    "eth-ipv4": ETH + b"\x08\x00" + ipv4(6, tcpseg(A)),
    "ipv4-ihl-15": b"\x4f" + ipv4(6, tcpseg(A))[1:],
    "ipv4-v6": b"\x60" + bytes(39),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/corpus"
    for sub, seeds in (("stack", SEEDS), ("wire", WIRE)):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
        for name, blob in seeds.items():
            with open(os.path.join(out, sub, "seed-" + name), "wb") as f:
                f.write(blob)


if __name__ == "__main__":
    main()
