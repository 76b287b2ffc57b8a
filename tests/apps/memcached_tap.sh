#!/usr/bin/env bash
# memcached -t 4 (unmodified) under libdemi on a tap device: its main thread
# accepts and hands each connection to one of 4 worker threads (round robin),
# which then reads and writes it: sockets used from a thread other than the
# one that accepted them. A python3 client on the tap's kernel end opens 64
# connections, stores 2,000 values of 1 B..64 KiB (random bytes) spread over
# them, reads every value back on a different connection than the one that
# stored it, and compares byte for byte. (-u root: the stack starts lazily,
# after memcached would have dropped privileges, and must create the tap.)
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd memcached
need_lib

ns=$(net_ns_new dmc)
tap=$(net_tag dmt)
T=$APPS_TMP
demi_conf "$T/demi.conf" device="tap:$tap" address=198.18.7.2/24 listen=11211 level=info
demi_run -n "$ns" "$T/demi.conf" memcached -u root -t 4 -p 11211 -U 0 -l 0.0.0.0 -c 1024 -m 256 \
	>"$T/mc.log" 2>&1 &
net_kill_at_exit $!
net_tap_attach "$ns" "$tap" 198.18.7.1/24 || { apps_logs "$T/mc.log"; fail "tap $tap never appeared"; }
net_wait_tcp "$ns" 198.18.7.2 11211 20 || { apps_logs "$T/mc.log"; fail "memcached on 198.18.7.2:11211 unreachable"; }
apps_bypassed "$T/mc.log" || { apps_logs "$T/mc.log"; fail "memcached's listener is not on the stack"; }

ip netns exec "$ns" $PY - <<'PY' || { apps_logs "$T/mc.log"; fail "memcached client"; }
import os, random, socket, sys

NCONN, NKEYS = 64, 2000
r = random.Random(11)

class Conn:
    def __init__(self):
        self.s = socket.create_connection(("198.18.7.2", 11211), timeout=20)
        self.buf = b""
    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise SystemExit("connection closed by memcached")
            self.buf += d
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l
    def exact(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise SystemExit("connection closed by memcached")
            self.buf += d
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

conns = [Conn() for _ in range(NCONN)]
vals = {}
for i in range(NKEYS):
    size = r.choice([1, 7, 100, 1400, 1500, 4096, 20000, 65536]) if i % 3 else r.randint(1, 65536)
    vals[f"demi:{i}"] = os.urandom(size)
keys = list(vals)
# store: each connection pipelines its share of sets, then reads the replies
for c in range(NCONN):
    out = b"".join(b"set %s 0 0 %d\r\n%s\r\n" % (k.encode(), len(vals[k]), vals[k]) for k in keys[c::NCONN])
    conns[c].s.sendall(out)
for c in range(NCONN):
    for k in keys[c::NCONN]:
        l = conns[c].line()
        if l != b"STORED":
            raise SystemExit(f"set {k}: {l!r}")
# read back through another connection, 10 keys per get
bad = 0
for c in range(NCONN):
    mine = keys[c::NCONN]
    conn = conns[(c + 17) % NCONN]
    for j in range(0, len(mine), 10):
        batch = mine[j:j + 10]
        conn.s.sendall(b"get " + " ".join(batch).encode() + b"\r\n")
        for k in batch:
            l = conn.line().split()
            if len(l) != 4 or l[0] != b"VALUE" or l[1].decode() != k:
                raise SystemExit(f"get {k}: {l!r}")
            d = conn.exact(int(l[3]) + 2)
            if d[:-2] != vals[k] or d[-2:] != b"\r\n":
                bad += 1
        l = conn.line()
        if l != b"END":
            raise SystemExit(f"get: no END ({l!r})")
if bad:
    raise SystemExit(f"{bad} of {NKEYS} values differ")
conns[0].s.sendall(b"stats\r\n")
st = {}
while True:
    l = conns[0].line()
    if l == b"END":
        break
    _, k, v = l.decode().split(" ", 2)
    st[k] = v
if int(st["threads"]) != 4 or int(st["curr_items"]) != NKEYS or int(st["total_connections"]) < NCONN:
    raise SystemExit(f"stats: threads {st['threads']} items {st['curr_items']} conns {st['total_connections']}")
total = sum(len(v) for v in vals.values())
print(f"memcached: {NKEYS} values ({total} bytes) over {NCONN} connections, all read back byte-exact; "
      f"threads {st['threads']}, get_hits {st['get_hits']}")
for c in conns:
    c.s.close()
PY
echo "memcached -t 4 over tap: values stored and read back byte-exact across worker threads"
