#!/usr/bin/python3
"""Reads a libdemi counters file (stack/include/demi/shm.h) for the tests:
   demishm.py FILE [NAME...]   prints NAME=VALUE for the counters asked (all if none)
   demishm.py FILE --conns     prints the connection table"""
import struct
import sys

HDR = struct.Struct("<IIIIiI64s128s6sHII QQQQ IIIIIIII")


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    for _ in range(100):
        h = HDR.unpack_from(data)
        seq = h[15]
        if seq % 2 == 0:
            break
        with open(path, "rb") as f:
            data = f.read()
    magic, version = h[0], h[1]
    if magic != 0x494D4544 or version != 1:
        raise SystemExit(f"{path}: not a libdemi counters file (magic {magic:#x}, version {version})")
    n, names_off, values_off, conns_off, conns_max, nconns, conn_size = h[16:23]
    names = [data[names_off + 48 * i: names_off + 48 * (i + 1)].split(b"\0")[0].decode() for i in range(n)]
    values = struct.unpack_from(f"<{n}Q", data, values_off)
    conns = []
    for i in range(nconns):
        c = struct.unpack_from("<IIHHii16sIIIIIIII", data, conns_off + i * conn_size)
        conns.append(c)
    return {"pid": h[4], "program": h[6].split(b"\0")[0].decode(), "device": h[7].split(b"\0")[0].decode(),
            "counters": dict(zip(names, values)), "conns": conns}


def main():
    d = read(sys.argv[1])
    if "--conns" in sys.argv:
        import socket
        for c in d["conns"]:
            la = socket.inet_ntoa(struct.pack("<I", c[0]))
            pa = socket.inet_ntoa(struct.pack("<I", c[1]))
            state = c[6].split(bytes(1))[0].decode()
            print(f"{la}:{c[2]} {pa}:{c[3]} type={c[4]} state={state}")
        return
    want = sys.argv[2:]
    for k, v in d["counters"].items():
        if not want or k in want:
            print(f"{k}={v}")


if __name__ == "__main__":
    main()
