"""Kernel client for tests/apps/fork_*.sh: N concurrent connections to
ADDR:PORT, each sends BYTES of random data while it reads the echo, then
shuts down its side; the echo must be byte-exact (sha256). Prints one line
per connection, "ok PID LOCAL", and exits non-zero on any failure."""
import hashlib, os, socket, sys, threading

addr, port, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
results, lock = [], threading.Lock()


def one(i):
    try:
        data = os.urandom(size)
        s = socket.create_connection((addr, port), timeout=60)
        f = s.makefile("rb")
        hello = f.readline().split()
        assert hello[0] == b"pid", hello

        def send():
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        t = threading.Thread(target=send)
        t.start()
        h, got = hashlib.sha256(), 0
        while True:
            b = f.read1(1 << 16)
            if not b:
                break
            h.update(b)
            got += len(b)
        t.join()
        s.close()
        ok = got == size and h.digest() == hashlib.sha256(data).digest()
        line = "%s %s %s%s" % ("ok" if ok else "BAD", hello[1].decode(), hello[2].decode(),
                               "" if ok else " got %d of %d bytes" % (got, size))
    except Exception as e:
        line = "BAD connection %d: %r" % (i, e)
    with lock:
        results.append(line)


ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("\n".join(results), flush=True)
sys.exit(0 if all(r.startswith("ok") for r in results) and len(results) == n else 1)
