#!/usr/bin/env python3
"""The kernel-side peer of tests/shim/tcpflow.c.

  peer.py http-client ADDR PORT N   N requests as tcpflow's server expects them
  peer.py echo-server ADDR PORT     one connection, echoed until end of stream
  peer.py udp-client ADDR PORT      the datagrams udpflow's server expects
  peer.py udp-echo ADDR PORT        echoes datagrams until "quit"
  peer.py echo-multi ADDR PORT      every connection echoed, each in a thread,
                                    until one begins with "QUIT"
Exits non-zero on any mismatch."""
import socket
import sys
import threading

BODY = 300000
UPLOAD = 1 << 20


def body_byte(i):
    return (i * 7) % 251


def recv_exact(s, n):
    out = bytearray()
    while len(out) < n:
        b = s.recv(min(65536, n - len(out)))
        if not b:
            raise SystemExit("peer: early end of stream after %d of %d" % (len(out), n))
        out += b
    return bytes(out)


def recv_line(s):
    out = bytearray()
    while not out.endswith(b"\n"):
        b = s.recv(1)
        if not b:
            raise SystemExit("peer: end of stream in a line: %r" % bytes(out))
        out += b
    return out.decode().strip()


def http_client(addr, port, n):
    for k in range(n):
        s = socket.create_connection((addr, port), timeout=30)
        s.sendall(b"GET %d\n" % BODY)
        line = recv_line(s)
        if line != "LEN %d" % BODY:
            raise SystemExit("peer: header %r" % line)
        body = recv_exact(s, BODY)
        want = bytes(body_byte(i) for i in range(BODY))
        if body != want:
            bad = next(i for i in range(BODY) if body[i] != want[i])
            raise SystemExit("peer: body differs at %d" % bad)
        up = bytes((i * 3) % 256 for i in range(UPLOAD))
        s.sendall(up)
        s.shutdown(socket.SHUT_WR)
        line = recv_line(s)
        if line != "GOT %d %d" % (UPLOAD, sum(up)):
            raise SystemExit("peer: reply %r" % line)
        if s.recv(1) != b"":
            raise SystemExit("peer: data after the reply")
        s.close()
        print("peer: request %d ok" % k)


def echo_server(addr, port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(4)
    print("peer: listening", flush=True)
    c, _ = ls.accept()
    c.settimeout(60)
    total = 0
    while True:
        b = c.recv(65536)
        if not b:
            break
        c.sendall(b)
        total += len(b)
    c.close()
    print("peer: echoed %d" % total)


def udp_client(addr, port):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(10)
    for w in (b"one", b"two", b"three"):
        u.sendto(w, (addr, port))
        got, frm = u.recvfrom(100)
        if got != w.upper() or frm != (addr, port):
            raise SystemExit("peer: %r from %r" % (got, frm))
    u.sendto(bytes(1400), (addr, port))
    got = u.recv(4096)
    if len(got) != 100:
        raise SystemExit("peer: big reply of %d bytes" % len(got))
    for w in (b"a", b"b", b"c"):
        u.sendto(w, (addr, port))
    print("peer: udp ok")


def udp_echo(addr, port):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((addr, port))
    u.settimeout(60)
    print("peer: listening", flush=True)
    while True:
        b, frm = u.recvfrom(65536)
        if b == b"quit":
            break
        u.sendto(b, frm)
    print("peer: udp echo done")


def echo_conn(c, stop):
    try:
        c.settimeout(120)
        first = True
        while True:
            b = c.recv(65536)
            if not b:
                break
            if first and b.startswith(b"QUIT"):
                stop.set()
                break
            first = False
            c.sendall(b)
    except OSError:
        pass  # reset by a close with unread data: expected
    finally:
        c.close()


def echo_multi(addr, port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(128)
    ls.settimeout(0.2)
    stop = threading.Event()
    print("peer: listening", flush=True)
    n = 0
    while not stop.is_set():
        try:
            c, _ = ls.accept()
        except socket.timeout:
            continue
        n += 1
        threading.Thread(target=echo_conn, args=(c, stop), daemon=True).start()
    print("peer: %d connections" % n)


if __name__ == "__main__":
    if sys.argv[1] == "http-client":
        http_client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif sys.argv[1] == "udp-client":
        udp_client(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "udp-echo":
        udp_echo(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "echo-multi":
        echo_multi(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "echo-server":
        echo_server(sys.argv[2], int(sys.argv[3]))
    else:
        raise SystemExit("usage")
