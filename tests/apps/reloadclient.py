#!/usr/bin/env python3
"""HTTP/1.1 requests (Connection: close) from N threads for SECONDS against
HOST:PORT, each on a new connection; every request is checked: connected,
answered 200 with the whole body (its Content-Length), within a 10 s socket
timeout. Prints "ok COUNT" and a "BAD time port stage error" line for each
request that failed, where wrk only counts them; exits 1 if any did."""
import socket
import sys
import threading
import time

host, port, n, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
REQ = b"GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
t0 = time.time()
lock = threading.Lock()
ok = 0
bad = []


def one():
    s = socket.socket()
    s.settimeout(10)
    lport, stage = None, "connect"
    try:
        s.connect((host, port))
        lport, stage = s.getsockname()[1], "send"
        s.sendall(REQ)
        stage = "recv"
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        head, _, body = data.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError("status %r" % head[:20])
        length = [int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")]
        if not length or len(body) != length[0]:
            raise RuntimeError("body of %d bytes, Content-Length %r" % (len(body), length))
        return None
    except Exception as e:  # every failure is reported
        return (round(time.time() - t0, 3), lport, stage, repr(e))
    finally:
        s.close()


def run():
    global ok
    while time.time() - t0 < secs:
        r = one()
        with lock:
            if r:
                bad.append(r)
            else:
                ok += 1


threads = [threading.Thread(target=run) for _ in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("ok", ok)
for b in bad:
    print("BAD", *b)
sys.exit(1 if bad else 0)
