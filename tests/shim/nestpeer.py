#!/usr/bin/env python3
"""The kernel-side peer of tests/shim/nestflow.c.

  nestpeer.py ADDR PORT

Accepts a data connection, then a control connection. Each byte read on the
control connection is sent on the data connection (one segment each: the
program under test never sends on the data connection, so nothing but this
data arrives there); Q closes the data connection instead. Ends when the
control connection does."""
import socket
import sys


def main(addr, port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(4)
    print("peer: listening", flush=True)
    ls.settimeout(60)
    conn, _ = ls.accept()
    ctrl, _ = ls.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    ctrl.settimeout(60)
    sent = 0
    while True:
        b = ctrl.recv(1)
        if not b:
            break
        if b == b"Q":
            conn.close()
        else:
            conn.sendall(b)
            sent += 1
    print("peer: sent %d" % sent)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
