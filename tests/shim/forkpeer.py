"""Kernel peer of tests/shim/forkconn.c. Each connection's first byte says
what to do: E echo until EOF, then close; U send 1000 bytes, then read
until the end and print "U got N bytes, then EOF|reset"."""
import socket, sys, threading


def one(c):
    try:
        m = c.recv(1)
        if m == b"E":
            while True:
                b = c.recv(1 << 16)
                if not b:
                    break
                c.sendall(b)
        elif m == b"U":
            c.sendall(b"u" * 1000)
            n, end = 0, "EOF"
            try:
                while True:
                    b = c.recv(1 << 16)
                    if not b:
                        break
                    n += len(b)
            except ConnectionResetError:
                end = "reset"
            print("U got %d bytes, then %s" % (n, end), flush=True)
    finally:
        c.close()


ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", int(sys.argv[1])))
ls.listen(16)
print("listening", flush=True)
while True:
    c, _ = ls.accept()
    threading.Thread(target=one, args=(c,), daemon=True).start()
