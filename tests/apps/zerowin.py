#!/usr/bin/python3
"""A reader that stops reading: GET PATH from ADDR:PORT with a small receive
buffer, read the headers and the first 1 MiB, print "paused" and read
nothing for SECS seconds (the sender faces a zero window), then read the
rest. Prints "RESULT bytes=N sha256=HEX" of the body.
  zerowin.py ADDR PORT PATH SECS"""
import hashlib
import socket
import sys
import time

addr, port, path, secs = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.settimeout(60)
s.connect((addr, port))
s.sendall(f"GET {path} HTTP/1.1\r\nHost: demi\r\nConnection: close\r\n\r\n".encode())
buf = b""
while b"\r\n\r\n" not in buf:
    d = s.recv(65536)
    if not d:
        sys.exit("EOF in the headers")
    buf += d
head, body = buf.split(b"\r\n\r\n", 1)
length = int([h.split(b":")[1] for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")][0])
h = hashlib.sha256(body)
got = len(body)
while got < min(length, 1 << 20):
    d = s.recv(65536)
    if not d:
        sys.exit("EOF before the pause")
    h.update(d)
    got += len(d)
print("paused", flush=True)
time.sleep(secs)
print("reading", flush=True)
while got < length:
    d = s.recv(1 << 20)
    if not d:
        sys.exit(f"EOF after {got} of {length} bytes")
    h.update(d)
    got += len(d)
print(f"RESULT bytes={got} sha256={h.hexdigest()}", flush=True)
