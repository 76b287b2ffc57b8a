#!/usr/bin/python3
"""The kernel's end of the interop tests: plain Linux sockets.

  kpeer.py echo-server ADDR PORT [--once]   echo every byte; at the peer's FIN finish, then FIN;
                                            prints "echoed N sha256=..." of what it got
  kpeer.py client ADDR PORT BYTES           send BYTES of the pattern, read the echo, check every
                                            byte, half-close, expect the server's FIN; RESULT
                                            has the sha256 of each direction
  kpeer.py pattern-sha BYTES                the sha256 of the pattern's first BYTES
  kpeer.py reset ADDR PORT                  connect, send a little, close with RST (SO_LINGER 0)
  kpeer.py udp-client ADDR PORT COUNT       COUNT datagrams, each echoed and checked
  kpeer.py udp-echo-server ADDR PORT        send every datagram back
  kpeer.py udp-client-big ADDR PORT COUNT   COUNT datagrams of 1473..65507 bytes (fragments), echoed

The pattern is demi-echo's: byte i of a stream is (i*7 + (i >> 13)) & 255.
Prints one line starting with RESULT; exit 0 when every check held."""
import hashlib
import selectors
import os
import socket
import struct
import sys
import time

STALL = float(os.environ.get("KPEER_STALL", "30"))  # seconds without progress: a failure
PERIOD = 1 << 21  # the pattern repeats every 2 MiB
BLOCK = bytes(((i * 7) + (i >> 13)) & 255 for i in range(PERIOD)) * 2


def pat(off, n):
    """n pattern bytes from stream offset off (n <= PERIOD)."""
    o = off % PERIOD
    return BLOCK[o:o + n]


def set_cc(s):
    """The congestion control KPEER_CC names, if set (the namespace's
    default cannot always be changed)."""
    cc = os.environ.get("KPEER_CC")
    if cc:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())


def echo_server(addr, port, once):
    ls = socket.socket()
    set_cc(ls)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(16)
    print("listening", flush=True)
    while True:
        c, _ = ls.accept()
        total = 0
        h = hashlib.sha256()
        try:
            while True:
                d = c.recv(1 << 20)
                if not d:
                    break
                h.update(d)
                c.sendall(d)
                total += len(d)
            c.shutdown(socket.SHUT_WR)
        except OSError as e:
            print(f"connection ended: {e}", flush=True)
        c.close()
        print(f"echoed {total} sha256={h.hexdigest()}", flush=True)
        if once:
            return 0


def client(addr, port, nbytes):
    s = socket.create_connection((addr, port), timeout=30)
    set_cc(s)
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    sent = got = 0
    hs, hr = hashlib.sha256(), hashlib.sha256()
    shut = eof = False
    t0 = time.time()
    last = t0
    while not eof:
        if time.time() - last > STALL:
            print(f"RESULT error=stalled sent={sent} got={got}")
            return 1
        for _, ev in sel.select(1):
            if ev & selectors.EVENT_WRITE and sent < nbytes:
                try:
                    b = pat(sent, min(65536, nbytes - sent))
                    n = s.send(b)
                    hs.update(b[:n])
                    sent += n
                    last = time.time()
                except BlockingIOError:
                    pass
                if sent == nbytes and not shut:
                    s.shutdown(socket.SHUT_WR)
                    shut = True
                    sel.modify(s, selectors.EVENT_READ)
            if ev & selectors.EVENT_READ:
                try:
                    d = s.recv(1 << 20)
                except BlockingIOError:
                    continue
                if not d:
                    eof = True
                    break
                off = 0
                while off < len(d):
                    n = min(len(d) - off, PERIOD)
                    if d[off:off + n] != pat(got + off, n):
                        bad = next(i for i in range(n) if d[off + i] != pat(got + off + i, 1)[0])
                        print(f"RESULT error=mismatch at={got + off + bad}")
                        return 1
                    off += n
                hr.update(d)
                got += len(d)
                last = time.time()
    secs = time.time() - t0
    ok = got == nbytes and sent == nbytes
    print(f"RESULT bytes={nbytes} sent={sent} echoed={got} secs={secs:.2f} "
          f"mbit_per_s={got * 8 / secs / 1e6:.0f} sha_sent={hs.hexdigest()} "
          f"sha_echoed={hr.hexdigest()} ok={int(ok)}")
    return 0 if ok else 1


def reset(addr, port):
    s = socket.create_connection((addr, port), timeout=10)
    s.sendall(b"x" * 1000)
    time.sleep(0.2)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    print("RESULT reset=sent")
    return 0


def udp_echo_server(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    print("listening", flush=True)
    while True:
        d, a = s.recvfrom(65536)
        s.sendto(d, a)


def udp_echoes(addr, port, count, size_of, tries):
    """COUNT datagrams of size_of(i) bytes, each echoed back intact"""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.settimeout(1)
    ok = 0
    for i in range(count):
        m = struct.pack("!I", i) + pat(i, size_of(i) - 4)
        for _ in range(tries):
            s.sendto(m, (addr, port))
            try:
                while True:  # a late echo of an earlier try is skipped
                    d, _ = s.recvfrom(65536)
                    if d[:4] == m[:4]:
                        break
            except socket.timeout:
                continue
            ok += d == m
            break
    print(f"RESULT datagrams={count} echoed_ok={ok} ok={int(ok == count)}")
    return 0 if ok == count else 1


def udp_client(addr, port, count):
    return udp_echoes(addr, port, count, lambda i: 4 + (i * 37) % 1400, 3)


def udp_client_big(addr, port, count):
    sizes = [1473, 2000, 2961, 4000, 8192, 9000, 16384, 30000, 65507]
    return udp_echoes(addr, port, count, lambda i: sizes[i % len(sizes)], 5)


def pattern_sha(nbytes):
    h = hashlib.sha256()
    for off in range(0, nbytes, PERIOD):
        h.update(pat(off, min(PERIOD, nbytes - off)))
    print(h.hexdigest())
    return 0


def main():
    a = sys.argv[1:]
    if a[0] == "pattern-sha":
        return pattern_sha(int(a[1]))
    if a[0] == "echo-server":
        return echo_server(a[1], int(a[2]), "--once" in a)
    if a[0] == "client":
        return client(a[1], int(a[2]), int(a[3]))
    if a[0] == "reset":
        return reset(a[1], int(a[2]))
    if a[0] == "udp-echo-server":
        return udp_echo_server(a[1], int(a[2]))
    if a[0] == "udp-client":
        return udp_client(a[1], int(a[2]), int(a[3]))
    if a[0] == "udp-client-big":
        return udp_client_big(a[1], int(a[2]), int(a[3]))
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
