#!/usr/bin/python3
"""libdemi against the kernel, measured with the users' own tools.

Each benchmark runs on the kernel (loopback) and under libdemi (both ends
under the shim, joined by memif), alternating A B A B, and reports medians
and ratios in REPORT.md with PNG plots; the raw DPDK memif round trip is the
floor. Numbers on a shared 2-core VM are noisy: compare within one run only.

    tools/bench/bench.py [--quick] [--rounds N] [--out DIR] [--only NAME,...]
                         [--kernel-only] [--no-profile] [--profile-only]
"""
import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIB = os.path.join(TOP, "build", "libdemi.so")
BIN = os.path.join(TOP, "build")
SRV_IP, CLI_IP = "198.18.10.1", "198.18.10.2"
# Pinning on 2 cores: the server on cpu1, the client (and this script) on cpu0.
# Under libdemi each end busy-polls its own core; "kernel_1cpu" puts both
# kernel ends on cpu0, where a wake-up needs no inter-processor interrupt.
SRV_CPU, CLI_CPU = 1, 0
MODE_CPUS = {"kernel": (SRV_CPU, CLI_CPU), "kernel_1cpu": (CLI_CPU, CLI_CPU),
             "demi": (SRV_CPU, CLI_CPU), "floor": (SRV_CPU, CLI_CPU)}
MODE_LABEL = {"kernel": "kernel (2 cores)", "kernel_1cpu": "kernel (1 core)",
              "demi": "libdemi", "floor": "floor"}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def sh(cmd, timeout=120, env=None, check=False):
    r = subprocess.run(cmd, shell=isinstance(cmd, str), capture_output=True, text=True,
                       timeout=timeout, env=env)
    if check and r.returncode != 0:
        raise RuntimeError(f"{cmd}: exit {r.returncode}: {r.stderr.strip()[-400:]}")
    return r


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(host, port, secs=15):
    end = time.time() + secs
    while time.time() < end:
        with contextlib.suppress(OSError), socket.create_connection((host, port), 0.2):
            return True
        time.sleep(0.05)
    return False


def is_demi(mode):
    return mode == "demi"


class Side:
    """Where one end of a benchmark runs: the kernel, or libdemi over memif."""

    def __init__(self, mode, role, tmp):
        self.mode, self.role, self.tmp = mode, role, tmp

    def env(self):
        e = dict(os.environ)
        for k in ("LD_PRELOAD", "DEMI_CONFIG", "DEMI_DISABLE"):
            e.pop(k, None)
        if is_demi(self.mode):
            e["LD_PRELOAD"] = LIB
            e["DEMI_CONFIG"] = os.path.join(self.tmp, f"{self.role}.conf")
        return e


def demi_configs(tmp):
    sock = os.path.join(tmp, "memif.sock")
    for role, ip in (("server", SRV_IP), ("client", CLI_IP)):
        with open(os.path.join(tmp, f"{role}.conf"), "w") as f:
            f.write(f"[dpdk]\ndevice = memif:{sock},role={role}\n"
                    f"[net]\naddress = {ip}/24\n"
                    f"[bypass]\nlisten = *\nconnect = 198.18.10.0/24\n"
                    f"[fallback]\non_error = fail\n"
                    f"[log]\nlevel = warn\n")


# ------------------------------------------------ evidence of the stack
# A libdemi cell counts only if the traffic went through the stack: every
# libdemi run uses on_error = fail (a device that cannot start fails the
# sockets instead of leaving them with the kernel), and after the run the
# server's counters files (/dev/shm/demi.PID.N, stack/include/demi/shm.h),
# read while it still runs, must show at least what the run moved.
SHM_DIR = "/dev/shm"
SHM_HDR = struct.Struct("<IIIIiI64s128s6sHII QQQQ IIIIIIII")
SHM_MAGIC, SHM_VERSION, SHM_NAME_LEN = 0x494D4544, 1, 48


def shm_counters(path):
    """The counters in one file as {NAME: value}, None if unreadable."""
    for _ in range(100):
        try:
            with open(path, "rb") as f:
                data = f.read()
            h = SHM_HDR.unpack_from(data)
        except (OSError, struct.error):
            return None
        if h[0] != SHM_MAGIC or h[1] != SHM_VERSION:
            return None
        if h[15] % 2:  # being written
            time.sleep(0.001)
            continue
        n, names_off, values_off = h[16:19]
        names = [data[names_off + SHM_NAME_LEN * i:names_off + SHM_NAME_LEN * (i + 1)]
                 .split(b"\0")[0].decode() for i in range(n)]
        return dict(zip(names, struct.unpack_from(f"<{n}Q", data, values_off)))
    return None


def session_files(sid):
    """[(path, pid)] of the counters files of session sid's processes."""
    out = []
    with contextlib.suppress(OSError):
        for name in os.listdir(SHM_DIR):
            m = re.fullmatch(r"demi\.(\d+)\.(\d+|fds)", name)
            if m:
                with contextlib.suppress(OSError):
                    if os.getsid(int(m.group(1))) == sid:
                        out.append((os.path.join(SHM_DIR, name), int(m.group(1))))
    return out


def session_counters(sid):
    """The stack counters of every process of session sid (a server and the
    workers it forked), summed; {} if none of them runs a stack."""
    total = {}
    for name in os.listdir(SHM_DIR):
        m = re.fullmatch(r"demi\.(\d+)\.(\d+)", name)
        if not m:
            continue
        try:
            if os.getsid(int(m.group(1))) != sid:
                continue
        except OSError:
            continue
        c = shm_counters(os.path.join(SHM_DIR, name))
        for k, v in (c or {}).items():
            total[k] = total.get(k, 0) + v
    return total


def through_stack(srv, rx_bytes=0, tx_bytes=0, rx_segs=0):
    """Under libdemi: the server's stack counters show at least rx_bytes TCP
    payload received, tx_bytes sent and rx_segs segments received, else the
    run is an error. Returns a line of evidence for the report."""
    if not is_demi(srv.side.mode):
        return None
    want = {"TCP_RX_BYTES": rx_bytes, "TCP_TX_BYTES": tx_bytes, "TCP_RX_SEGS": max(rx_segs, 1)}
    end = time.time() + 3  # the counters are published a few times a second
    while True:
        c = session_counters(srv.p.pid)
        short = [k for k, v in want.items() if c.get(k, 0) < v]
        if not short or time.time() > end:
            break
        time.sleep(0.1)
    if not c:
        raise RuntimeError(f"{os.path.basename(srv.argv[0])}: no stack counters file: the traffic "
                           "did not go through libdemi")
    if short:
        raise RuntimeError(f"{os.path.basename(srv.argv[0])}'s stack counted less than the run moved: "
                           + ", ".join(f"{k}={c.get(k, 0)} < {want[k]}" for k in short))
    return (f"server stack: {c['TCP_RX_SEGS']:,} segments, {c['TCP_RX_BYTES']:,} B in, "
            f"{c['TCP_TX_BYTES']:,} B out (the run moved at least {rx_bytes:,} B in, "
            f"{tx_bytes:,} B out)")


def kill_group(p, secs=3):
    """End a process group (a server, or a client started in its own
    session); the counters files its processes could not remove, being
    killed, are removed after them."""
    files = session_files(p.pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(p.pid, signal.SIGTERM)
    try:
        p.wait(secs)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    for path, pid in files:
        for _ in range(20):  # a child may outlive the leader briefly
            if not os.path.exists(f"/proc/{pid}"):
                with contextlib.suppress(OSError):
                    os.unlink(path)
                break
            time.sleep(0.05)


class Server:
    """A server process pinned to a CPU, killed (with its children) on exit."""

    def __init__(self, argv, side, cpu, ready_port=None, host="127.0.0.1", ready_text=None):
        self.argv, self.side, self.cpu = argv, side, cpu
        self.ready_port, self.host, self.ready_text = ready_port, host, ready_text

    def __enter__(self):
        self.out = tempfile.TemporaryFile()
        self.p = subprocess.Popen(["taskset", "-c", str(self.cpu)] + self.argv, env=self.side.env(),
                                  stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            if self.ready_text:
                end = time.time() + 15
                while self.ready_text not in self.output() and time.time() < end:
                    if self.p.poll() is not None:
                        break
                    time.sleep(0.02)
            if self.ready_port and not is_demi(self.side.mode):
                if not wait_port(self.host, self.ready_port):
                    raise RuntimeError(f"{self.argv[0]} did not start: {self.output()}")
            elif not self.ready_text:
                # under libdemi the server's stack (the memif server end) must be up
                # before the client starts; it starts lazily at the first wait
                time.sleep(1.0 if is_demi(self.side.mode) else 0.3)
            else:
                time.sleep(0.5 if is_demi(self.side.mode) else 0)
            if self.p.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited {self.p.returncode}: {self.output()}")
        except BaseException:
            kill_group(self.p)
            raise
        return self

    def output(self, tail=600):
        self.out.seek(0)
        return self.out.read().decode(errors="replace")[-tail:]

    def __exit__(self, *exc):
        kill_group(self.p)


def client(argv, side, cpu, timeout=120):
    try:
        r = subprocess.run(["taskset", "-c", str(cpu)] + argv, env=side.env(), capture_output=True,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Hang(f"{os.path.basename(argv[0])} did not finish in {timeout} s") from None
    if r.returncode != 0:
        raise RuntimeError(f"{os.path.basename(argv[0])}: exit {r.returncode}: "
                           f"{(r.stdout + r.stderr).strip()[-300:]}")
    return r.stdout + r.stderr


class Hang(RuntimeError):
    """A run that did not finish: later rounds of the same side are skipped."""


def addr(mode):
    return SRV_IP if is_demi(mode) else "127.0.0.1"


def sides(mode, tmp):
    return Side(mode, "server", tmp), Side(mode, "client", tmp)


# ---------------------------------------------------------------- benchmarks
# Each takes (mode, tmp, cfg) and returns {metric: value}; a key "_dist" holds
# a latency distribution {percentile: us} for the plots.

def parse_sockperf(out):
    pct = {float(m.group(1)): float(m.group(2))
           for m in re.finditer(r"percentile\s+([\d.]+)\s*=\s*([\d.]+)", out)}
    if 50.0 not in pct:
        raise RuntimeError("sockperf: no percentiles in output: " + out.strip()[-200:])
    return pct


def b_sockperf(size):
    """TCP ping-pong, one message in flight. sockperf takes its socket calls from
    libc through dlsym, so under libdemi it is told to load them from libdemi."""
    def run(mode, tmp, cfg):
        port = free_port()
        srv, cli = sides(mode, tmp)
        scpu, ccpu = MODE_CPUS[mode]
        extra = ["--load-vma=" + LIB] if is_demi(mode) else []
        with Server(["sockperf", "sr", "--tcp", "-i", addr(mode), "-p", str(port)] + extra, srv,
                    scpu, port, addr(mode)) as s:
            out = client(["sockperf", "pp", "--tcp", "-i", addr(mode), "-p", str(port), "-m",
                          str(size), "-t", str(cfg.secs), "--full-rtt"] + SOCKPERF_MPS + extra, cli, ccpu,
                         timeout=cfg.secs + 60)
            m = re.search(r"\[Valid Duration\].*ReceivedMessages=(\d+)", out)
            got = int(m.group(1)) if m else 0
            ev = through_stack(s, rx_bytes=got * size, tx_bytes=got * size, rx_segs=got)
        pct = parse_sockperf(out)
        return {"rtt_p50_us": pct[50.0], "rtt_p99_us": pct[99.0], "rtt_p999_us": pct[99.9],
                "_dist": pct, "_stack": ev}
    return run


# file I/O system calls, counted apart in the nginx rows (nginx reads its page
# with pread, or sendfile on the kernel)
FILE_SYSCALLS = ("pread64", "sendfile64", "openat", "newfstatat", "statx")
NGINX_CONF = """daemon off; master_process on; worker_processes 1; pid {tmp}/nginx.pid;
error_log {tmp}/nginx.err warn; worker_rlimit_nofile 16384;
events {{ worker_connections 8192; }}
http {{ access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;
  open_file_cache max=1000 inactive=60s;
  server {{ listen {port} backlog=4096; root {tmp}/www; }} }}
"""
PAGE_BYTES = 600


def nginx_server(mode, tmp, port, netns=None):
    os.makedirs(os.path.join(tmp, "www"), exist_ok=True)
    os.chmod(tmp, 0o755)
    with open(os.path.join(tmp, "www", "index.html"), "w") as f:
        f.write("x" * (PAGE_BYTES - 1) + "\n")
    os.chmod(os.path.join(tmp, "www", "index.html"), 0o644)
    conf = os.path.join(tmp, f"nginx-{port}.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(tmp=tmp, port=port))
    if netns:  # reached from another namespace: the caller waits for it
        return Server(["ip", "netns", "exec", netns, "nginx", "-p", tmp, "-c", conf],
                      Side(mode, "server", tmp), SRV_CPU)
    return Server(["nginx", "-p", tmp, "-c", conf], Side(mode, "server", tmp), SRV_CPU, port,
                  addr(mode))


class SyscallCount:
    """System calls made by some processes while the block runs (perf stat on
    the raw_syscalls:sys_enter tracepoint), and among them those that read or
    open files (FILE_SYSCALLS: file I/O, which stays the kernel's under
    libdemi); count and file stay None without perf."""

    def __init__(self, pids, tmp):
        self.pids, self.count, self.file = pids, None, None
        self.out = os.path.join(tmp, f"perfstat-{os.getpid()}-{time.monotonic_ns()}.txt")

    def __enter__(self):
        self.p = None
        if self.pids and shutil.which("perf"):
            events = ",".join(["raw_syscalls:sys_enter"] + [f"syscalls:sys_enter_{n}"
                                                             for n in FILE_SYSCALLS])
            self.p = subprocess.Popen(["perf", "stat", "-x,", "-e", events, "-o",
                                       self.out, "-p", ",".join(map(str, self.pids))],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.2)
        return self

    def __exit__(self, *exc):
        if not self.p:
            return
        self.p.send_signal(signal.SIGINT)
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            return
        with contextlib.suppress(OSError, ValueError, IndexError):
            file = None
            for line in open(self.out):
                f = line.split(",")
                if len(f) > 2 and f[0].isdigit():
                    if f[2] == "raw_syscalls:sys_enter":
                        self.count = int(f[0])
                    elif f[2].startswith("syscalls:sys_enter_"):
                        file = (file or 0) + int(f[0])
            self.file = file


def wrk_parse(out):
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        raise RuntimeError("wrk: no Requests/sec: " + out.strip()[-300:])
    lat = {}
    for m2 in re.finditer(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        lat[m2.group(1)] = float(m2.group(2)) * {"us": 1, "ms": 1e3, "s": 1e6}[m2.group(3)]
    errs = 0
    e = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if e:
        errs = sum(int(x) for x in e.groups())
    n2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return float(m.group(1)), lat, errs, (int(n2xx.group(1)) if n2xx else 0), (e.group(0) if e else "")


def b_nginx(conns, close=False):
    """nginx, one worker, a 600-byte static page, wrk -t1 (keep-alive, or a new
    connection per request with "Connection: close")."""
    def run(mode, tmp, cfg):
        port = free_port()
        with nginx_server(mode, tmp, port) as srv:
            argv = ["wrk", "-t1", f"-c{conns}", f"-d{cfg.secs}s", "--latency"]
            if close:
                argv += ["-H", "Connection: close"]
            with SyscallCount(children(srv.p.pid), tmp) as sc:
                out = client(argv + [f"http://{addr(mode)}:{port}/index.html"],
                             Side(mode, "client", tmp), CLI_CPU, timeout=cfg.secs + 60)
            m = re.search(r"(\d+) requests in", out)
            nreq = int(m.group(1)) if m else 0
            # a request is at least 40 bytes, a response at least the page
            ev = through_stack(srv, rx_bytes=nreq * 40, tx_bytes=nreq * PAGE_BYTES, rx_segs=nreq)
        rps, lat, errs, bad, etext = wrk_parse(out)
        res = {"conn_per_s" if close else "req_per_s": rps, "sock_errors": errs, "_stack": ev}
        if sc.count is not None and m and int(m.group(1)):
            res["worker_syscalls_per_req"] = sc.count / int(m.group(1))
            if sc.file is not None:
                res["worker_nonfile_syscalls_per_req"] = (sc.count - sc.file) / int(m.group(1))
        if not close:
            res.update({"p50_us": lat.get("50", 0), "p99_us": lat.get("99", 0)})
        if bad:
            raise RuntimeError(f"wrk: {bad} non-2xx responses")
        # a few errors are reported next to the number; a run where a sizeable share
        # of the requests failed has no meaningful rate
        done = rps * cfg.secs
        if errs > max(10, 0.01 * done):
            raise RuntimeError(f"wrk: {etext} for {done:.0f} completed requests")
        return res
    return run


# ------------------------------------------------ nginx on a veth (AF_XDP)
# nginx in one namespace on one end of a veth, wrk (kernel) in another on the
# other end: the kernel's nginx, or nginx under libdemi on an AF_XDP socket of
# the veth, either the whole queue (af_xdp:) or shared with the kernel through
# our XDP program (xdp:, the kernel keeps the address and every other port).
VETH_SRV, VETH_CLI = "198.18.30.1", "198.18.30.2"


def veth_pair(tag):
    """Two namespaces joined by a veth; returns (server ns, client ns, server dev)
    and a cleanup function. The client leaves no checksum to the veth (AF_XDP
    gets the frame as sent)."""
    nss, nsc, dev, peer = f"bv{tag}s", f"bv{tag}c", f"bv{tag}s", f"bv{tag}c"
    def cleanup():
        for ns in (nss, nsc):
            with contextlib.suppress(Exception):
                for pid in sh(["ip", "netns", "pids", ns]).stdout.split():
                    with contextlib.suppress(ProcessLookupError, ValueError):
                        os.kill(int(pid), signal.SIGKILL)
            sh(["ip", "netns", "del", ns])
    try:
        # a device that vanishes must not send the range out by the default route
        sh(["ip", "route", "replace", "blackhole", "198.18.0.0/15"], check=True)
        for ns in (nss, nsc):
            sh(["ip", "netns", "add", ns], check=True)
            sh(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        sh(["ip", "-n", nss, "link", "add", dev, "type", "veth", "peer", "name", peer, "netns", nsc],
           check=True)
        sh(["ip", "-n", nsc, "addr", "add", VETH_CLI + "/24", "dev", peer], check=True)
        for ns, d in ((nss, dev), (nsc, peer)):
            sh(["ip", "-n", ns, "link", "set", d, "up"], check=True)
        sh(["ip", "netns", "exec", nsc, "ethtool", "-K", peer, "tx", "off"], check=True)
    except BaseException:
        cleanup()
        raise
    return nss, nsc, dev, cleanup


def wait_http(ns, url, srv, what, secs=30):
    """Until url answers from namespace ns (a server reached from another
    namespace, which Server cannot wait for itself)."""
    end = time.time() + secs
    while time.time() < end:
        if sh(["ip", "netns", "exec", ns, "curl", "-s", "-o", "/dev/null", "-m", "1",
               url]).returncode == 0:
            return
        time.sleep(0.2)
    raise RuntimeError(f"nginx on {what} never answered: {srv.output()}")


def b_nginx_veth(kind):
    """nginx, one worker, a 600-byte page, wrk -t1 -c32 from the other end of a
    veth: the kernel's nginx against nginx under libdemi on kind (af_xdp, xdp)."""
    def run(mode, tmp, cfg):
        tag = f"{(os.getpid() + time.monotonic_ns()) & 0xfffff:05x}"
        nss, nsc, dev, cleanup = veth_pair(tag)
        try:
            port = free_port()
            if not is_demi(mode) or kind == "xdp":
                # the kernel's address (xdp: the stack takes the kernel's own)
                sh(["ip", "-n", nss, "addr", "add", VETH_SRV + "/24", "dev", dev], check=True)
            conf = os.path.join(tmp, "server.conf")
            with open(conf, "w") as f:
                f.write(f"[dpdk]\ndevice = {kind}:{dev}\n"
                        + ("" if kind == "xdp" else f"[net]\naddress = {VETH_SRV}/24\n")
                        + f"[bypass]\nlisten = {port}\n[fallback]\non_error = fail\n"
                          "[log]\nlevel = warn\n")
            srv = nginx_server(mode, tmp, port, netns=nss)
            with srv:
                url = f"http://{VETH_SRV}:{port}/index.html"
                wait_http(nsc, url, srv, f"{kind}:{dev}")
                out = client(["ip", "netns", "exec", nsc, "wrk", "-t1", "-c32", f"-d{cfg.secs}s",
                              "--latency", url], Side("kernel", "client", tmp), CLI_CPU,
                             timeout=cfg.secs + 60)
                m = re.search(r"(\d+) requests in", out)
                nreq = int(m.group(1)) if m else 0
                ev = through_stack(srv, rx_bytes=nreq * 40, tx_bytes=nreq * PAGE_BYTES,
                                   rx_segs=nreq)
            rps, lat, errs, bad, etext = wrk_parse(out)
            if bad or errs > max(10, 0.01 * rps * cfg.secs):
                raise RuntimeError(f"wrk: {bad} non-2xx, {etext}")
            return {"req_per_s": rps, "p50_us": lat.get("50", 0), "p99_us": lat.get("99", 0),
                    "sock_errors": errs, "_stack": ev}
        finally:
            cleanup()
    return run


# ------------------------------------------------ nginx under a SYN flood
# nginx on a veth as above (libdemi: AF_XDP, the whole queue), wrk -c100 from
# the other namespace, unflooded and then while build/synflood sends SYNs from
# random sources in 198.18.128.0/17 at SYNFLOOD_PPS a second from the client's
# namespace (the same rate for both sides, one both reach on this machine).
# The server answers those sources through the client's end, which does not
# forward them.
SYNFLOOD_PPS = int(os.environ.get("BENCH_SYNFLOOD_PPS", "40000"))


def b_nginx_synflood(mode, tmp, cfg):
    tag = f"{(os.getpid() + time.monotonic_ns()) & 0xfffff:05x}"
    nss, nsc, dev, cleanup = veth_pair(tag)
    try:
        port = free_port()
        if not is_demi(mode):
            sh(["ip", "-n", nss, "addr", "add", VETH_SRV + "/24", "dev", dev], check=True)
            sh(["ip", "-n", nss, "route", "add", "default", "via", VETH_CLI], check=True)
            # a veth delivers on the sender's core: RPS moves the kernel server's receive
            # processing (the flood's SYNs included) onto the server's core, as under libdemi
            sh(["ip", "netns", "exec", nss, "sh", "-c",
                f"echo {1 << SRV_CPU:x} >/sys/class/net/{dev}/queues/rx-0/rps_cpus"], check=True)
        conf = os.path.join(tmp, "server.conf")
        with open(conf, "w") as f:
            f.write(f"[dpdk]\ndevice = af_xdp:{dev}\n[net]\naddress = {VETH_SRV}/24\n"
                    f"gateway = {VETH_CLI}\n[bypass]\nlisten = {port}\n"
                    "[fallback]\non_error = fail\n[log]\nlevel = warn\n")
        url = f"http://{VETH_SRV}:{port}/index.html"
        with nginx_server(mode, tmp, port, netns=nss) as srv:
            wait_http(nsc, url, srv, f"af_xdp:{dev}")

            def wrk():
                out = client(["ip", "netns", "exec", nsc, "wrk", "-t1", "-c100", f"-d{cfg.secs}s",
                              "--latency", url], Side("kernel", "client", tmp), CLI_CPU,
                             timeout=cfg.secs + 60)
                rps, lat, errs, bad, etext = wrk_parse(out)
                if bad:
                    raise RuntimeError(f"wrk: {bad} non-2xx responses")
                return rps, lat, errs
            calm, calm_lat, calm_errs = wrk()
            flood = subprocess.Popen(
                ["taskset", "-c", str(CLI_CPU), "ip", "netns", "exec", nsc,
                 os.path.join(TOP, "build", "synflood"), VETH_SRV, str(port), "198.18.128.0/17",
                 str(cfg.secs + 1), str(SYNFLOOD_PPS)],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            try:
                time.sleep(0.5)
                hit, hit_lat, hit_errs = wrk()
                fout = flood.communicate(timeout=30)[0]
            finally:
                if flood.poll() is None:
                    flood.kill()
                    flood.wait()
            m = re.search(r"([\d.]+) SYN/s", fout)
            if flood.returncode != 0 or not m:
                raise RuntimeError(f"synflood: {fout.strip()[-300:]}")
            ev = through_stack(srv, rx_bytes=int(hit * cfg.secs) * 40, rx_segs=int(hit * cfg.secs))
        return {"req_per_s": calm, "flooded_req_per_s": hit, "kept_share": hit / calm,
                "p99_us": calm_lat.get("99", 0), "flooded_p99_us": hit_lat.get("99", 0),
                "flooded_sock_errors": hit_errs, "sock_errors": calm_errs,
                "flood_syn_per_s": float(m.group(1)), "_stack": ev}
    finally:
        cleanup()


def b_redis(pipeline):
    """redis-server against redis-benchmark -c 50, GET and SET."""
    def run(mode, tmp, cfg):
        port = free_port()
        srv, cli = sides(mode, tmp)
        with Server(["redis-server", "--port", str(port), "--bind", addr(mode), "--save", "",
                     "--appendonly", "no", "--protected-mode", "no", "--dir", tmp], srv, SRV_CPU,
                    port, addr(mode)) as s:
            n = 20000 if cfg.quick else 100000 * (4 if pipeline > 1 else 1)
            out = client(["redis-benchmark", "-h", addr(mode), "-p", str(port), "-c", "50", "-n",
                          str(n), "-P", str(pipeline), "-t", "set,get", "--csv"], cli, CLI_CPU,
                         timeout=60)
            # n SETs and n GETs: a command is at least 20 bytes, a reply at least 5
            ev = through_stack(s, rx_bytes=2 * n * 20, tx_bytes=2 * n * 5)
        res = {"_stack": ev}
        for line in out.splitlines():
            f = [x.strip('"') for x in line.split(",")]
            if f[0] in ("SET", "GET") and len(f) > 1:
                res[f[0].lower() + "_per_s"] = float(f[1])
                if len(f) > 6 and pipeline == 1:
                    res[f[0].lower() + "_p50_us"] = float(f[4]) * 1e3
        if len(res) < 2:
            raise RuntimeError("redis-benchmark: no results: " + out.strip()[-300:])
        return res
    return run


def b_memcached(mode, tmp, cfg):
    """memcached (-t 2) against memcaslap -T 1 -c 16 (90 % get, 10 % set)."""
    port = free_port()
    srv, cli = sides(mode, tmp)
    with Server(["memcached", "-U", "0", "-t", "2", "-p", str(port), "-l", addr(mode), "-u",
                 "root"], srv, SRV_CPU, port, addr(mode)) as s:
        out = client(["memcaslap", "-s", f"{addr(mode)}:{port}", "-T", "1", "-c", "16", "-t",
                      f"{cfg.secs}s", "--verify=0.1"], cli, CLI_CPU, timeout=cfg.secs + 60)
        ops = re.findall(r"Ops:\s*(\d+)", out)
        nops = int(ops[-1]) if ops else 0
        # a get or set is at least 10 bytes each way
        ev = through_stack(s, rx_bytes=nops * 10, tx_bytes=nops * 5)
    m = re.findall(r"TPS:\s*(\d+)", out)
    if not m or not nops:
        raise RuntimeError("memcaslap: no TPS/Ops in output: " + out.strip()[-300:])
    bad = memcaslap_errors(out)
    if bad:
        raise RuntimeError("memcaslap: " + bad)
    return {"ops_per_s": float(m[-1]), "_stack": ev}


def memcaslap_errors(out):
    """memcaslap goes on (and exits 0) after failed operations: any is an error."""
    errs = [f"{k} {v}" for k, v in re.findall(r"^(get_misses|verify_misses|verify_failed|udp_timeout):"
                                               r"\s*(\d+)", out, re.M) if int(v)]
    errs += [l.strip() for l in out.splitlines()
             if re.search(r"(?i)error|fail", l) and not re.match(r"\w+:\s*\d+$", l.strip())][:2]
    return "; ".join(errs)


# sockperf sizes its tables for 600k messages/s unless told: a faster run
# fails on its own "_seqN > m_maxSequenceNo".
SOCKPERF_MPS = ["--mps", "5000000"]


def b_iperf3(mode, tmp, cfg):
    """iperf3, one TCP stream, client to server."""
    port = free_port()
    srv, cli = sides(mode, tmp)
    with Server(["iperf3", "-s", "-p", str(port), "-B", addr(mode)], srv, SRV_CPU, port,
                addr(mode)) as s:
        out = client(["iperf3", "-c", addr(mode), "-p", str(port), "-t", str(cfg.secs), "-J"],
                     cli, CLI_CPU, timeout=cfg.secs + 30)
        j = json.loads(out[out.index("{"):])
        if "error" in j:
            raise RuntimeError("iperf3: " + j["error"])
        got = int(j["end"]["sum_received"]["bytes"])
        if not got:
            raise RuntimeError("iperf3: no bytes received")
        ev = through_stack(s, rx_bytes=got)
    return {"gbit_per_s": j["end"]["sum_received"]["bits_per_second"] / 1e9, "_stack": ev}


def pin_client():
    os.sched_setaffinity(0, {CLI_CPU})


def b_startup(with_config):
    """Start-up cost of the preload for programs that open no socket: with no
    configuration at all (nothing may start), or with one (the stack starts
    lazily, so still nothing). Also counts system calls and checks that no
    thread, socket or memory file was made."""
    def run(mode, tmp, cfg):
        env = dict(os.environ)
        for k in ("LD_PRELOAD", "DEMI_CONFIG", "DEMI_DISABLE"):
            env.pop(k, None)
        if is_demi(mode):
            env["LD_PRELOAD"] = LIB
            if with_config:
                env["DEMI_CONFIG"] = os.path.join(tmp, "client.conf")
            elif os.path.exists("/etc/demi"):
                raise RuntimeError("/etc/demi exists: the no-config case cannot be measured")
        res = {}
        if is_demi(mode):
            preload_loaded(env)
        n = 10 if cfg.quick else 40
        for name, argv in (("true_ms", ["/bin/true"]),
                           ("python_ms", ["/usr/bin/python3", "-c", "pass"])):
            subprocess.run(argv, env=env, check=True)  # warm the page cache
            t = []
            for _ in range(n):
                t0 = time.perf_counter()
                subprocess.run(argv, env=env, check=True, preexec_fn=pin_client)
                t.append((time.perf_counter() - t0) * 1e3)
            res[name] = statistics.median(t)
        # what the preload does in a program without sockets
        trace = os.path.join(tmp, "strace.out")
        senv = dict(env)
        senv.pop("LD_PRELOAD", None)
        pre = ["-E", "LD_PRELOAD=" + LIB] if is_demi(mode) else []
        sh(["strace", "-f", "-qq", "-o", trace] + pre + ["/bin/true"], env=senv, check=True)
        lines = [l for l in open(trace) if re.match(r"^\d+\s+\w+\(", l)]
        if is_demi(mode) and not any(os.path.realpath(LIB) in l and re.search(r"\) = \d+$", l.strip())
                                     for l in lines if "open" in l):
            raise RuntimeError("strace: /bin/true did not open the preload")
        res["true_syscalls"] = float(len(lines))
        started = [l.split(None, 1)[1][:80] for l in lines
                   if re.match(r"^\d+\s+(clone3?|fork|vfork|socket|memfd_create|timerfd_create|"
                               r"eventfd2?|epoll_create1?)\(", l) or "/dev/hugepages" in l]
        if started:
            raise RuntimeError("the preload started something in /bin/true: " + "; ".join(started[:3]))
        return res
    return run


def preload_loaded(env):
    """ld.so ignores a preload it cannot load with a message and exit 0: the
    start-up rows count only when the library is mapped in the program."""
    r = subprocess.run(["/bin/cat", "/proc/self/maps"], env=env, capture_output=True, text=True)
    if "cannot be preloaded" in r.stderr or r.returncode != 0:
        raise RuntimeError("the preload was not loaded: " + r.stderr.strip()[-200:])
    if os.path.realpath(LIB) not in r.stdout:
        raise RuntimeError(f"{LIB} is not mapped in a preloaded program")
    r = subprocess.run(["/bin/true"], env=env, capture_output=True, text=True)
    if r.stderr.strip():
        raise RuntimeError("/bin/true under the preload: " + r.stderr.strip()[-200:])


def proc_mem_kib(pid):
    """Resident memory of a process, hugetlb pages included (DPDK's memory)."""
    kib = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "HugetlbPages:")):
                kib += int(line.split()[1])
    return kib


# The slab caches a kernel TCP socket and its file descriptor live in.
SOCK_CACHES = ("TCP", "request_sock_TCP", "tw_sock_TCP", "sock_inode_cache", "filp", "dentry",
               "tcp_bind_bucket", "tcp_bind2_bucket", "eventpoll_epi")


def slab_kib():
    """KiB in use in the socket-related slab caches (/proc/slabinfo), which moves
    far less with the rest of the machine than Slab in /proc/meminfo; that one
    is the fallback."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        total = 0
        with open("/proc/slabinfo") as f:
            for line in f:
                fld = line.split()
                if fld and fld[0] in SOCK_CACHES:
                    total += int(fld[1]) * int(fld[3])
        if total:
            return total / 1024
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Slab:"):
                return int(line.split()[1])
    return 0


def b_scale(mode, tmp, cfg):
    """N idle TCP connections to a server (tools/bench/conn_hold), opened by a
    client of the same kind (also under the shim, over memif, for libdemi).
    Memory per connection: the server's resident memory (DPDK's included), and
    the system's slab (kernel sockets: both ends on the kernel; under libdemi
    the kernel sockets behind each fd) split evenly between the two ends."""
    n = 1000 if cfg.quick else 10000
    hold = os.path.join(BIN, "bench", "conn_hold")
    port = free_port()
    srv, cli = sides(mode, tmp)
    secs = 60
    with Server([hold, "server", addr(mode), str(port), "-n", str(n), "-t", str(secs)], srv,
                SRV_CPU, ready_text="listening") as s:
        pid = s.p.pid
        time.sleep(1.0)  # libdemi: the stack has started (at the first epoll_wait)
        m0, sl0 = proc_mem_kib(pid), slab_kib()
        c = subprocess.Popen(["taskset", "-c", str(CLI_CPU), hold, "client", addr(mode), str(port),
                              "-n", str(n), "-t", str(secs)], env=cli.env(),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)
        try:
            line = c.stdout.readline()
            if not line.startswith("connected"):
                c.wait(5)
                raise RuntimeError(f"conn_hold client: {(line + c.stdout.read()).strip()[-300:]}")
            end = time.time() + 30
            while f"held {n}" not in s.output(200) and time.time() < end:
                time.sleep(0.05)
            if f"held {n}" not in s.output(200):
                raise RuntimeError(f"the server holds fewer than {n}: {s.output(100).strip()}")
            time.sleep(1.0)
            m1, sl1 = proc_mem_kib(pid), slab_kib()
            ev = through_stack(s, rx_segs=2 * n)  # each connection's SYN and ACK
        finally:
            kill_group(c)
    rss = (m1 - m0) / n
    slab = (sl1 - sl0) / n
    return {"server_rss_kib": rss, "slab_both_ends_kib": slab, "per_conn_kib": rss + slab / 2,
            "server_base_mib": m0 / 1024, "_stack": ev}


def b_coswitch(mode, tmp, cfg):
    """The stack alone: our context switch (libdemi) against swapcontext (kernel column)."""
    out = sh([os.path.join(BIN, "bench", "co_switch")], check=True).stdout
    m = re.search(r"%s\s+([\d.]+) ns" % ("co_switch" if is_demi(mode) else "swapcontext"), out)
    if not m:
        raise RuntimeError("co_switch: " + out.strip()[-200:])
    return {"switch_ns": float(m.group(1))}


# ------------------------------------------------ the stack alone (no shim)
# Two processes joined by memif: the stack through tools/net/demi-echo, and
# raw frames through the driver alone (tools/net/demi-pingpong) as the floor.
DEMI_ECHO = os.path.join(BIN, "demi-echo")
DEMI_PINGPONG = os.path.join(BIN, "demi-pingpong")


def result_kv(out):
    lines = [l for l in out.splitlines() if l.startswith("RESULT")]
    if not lines:
        raise RuntimeError("no RESULT line: " + out.strip()[-300:])
    return dict(kv.split("=", 1) for kv in lines[-1].split()[1:] if "=" in kv)


def memif_pair(tmp, tool, server_args, client_args, secs):
    """Server on cpu1 (memif server), client on cpu0; returns both RESULT dicts."""
    if not os.path.exists(tool):
        raise RuntimeError(f"{tool} is not built")
    if os.geteuid() != 0:
        raise RuntimeError("needs root (DPDK memif)")
    sock = os.path.join(tmp, "bench-memif.sock")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(sock)
    is_echo = tool == DEMI_ECHO
    srv_dev = ["-d", f"memif:{sock},role=server"] + (["-a", SRV_IP + "/24"] if is_echo else [])
    cli_dev = ["-d", f"memif:{sock},role=client"] + (["-a", CLI_IP + "/24"] if is_echo else [])
    out = tempfile.TemporaryFile()

    def sout():
        out.seek(0)
        return out.read().decode(errors="replace")
    # The server's own run time only bounds a run that lost its client: it is
    # stopped (SIGTERM, then it prints its result) when the client is done. On
    # a loaded machine DPDK's start-up takes seconds, so the server gets the
    # client's time plus a minute, and up to 60 s to make its socket.
    # stdbuf: the RESULT line is written at once, not lost in a stdio buffer
    # when a server slow to close its device is killed
    srv = subprocess.Popen(["taskset", "-c", str(SRV_CPU), "stdbuf", "-oL", tool] + srv_dev +
                           ["-t", str(secs + 60)] + server_args,
                           stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        end = time.time() + 60
        while time.time() < end and not os.path.exists(sock) and srv.poll() is None:
            time.sleep(0.02)
        if not os.path.exists(sock):
            raise RuntimeError(f"{os.path.basename(tool)} server made no socket file: "
                               f"{sout().strip()[-300:]}")
        if is_echo:  # the stack listens a little after the socket file appears
            while time.time() < end and "listening" not in sout():
                time.sleep(0.02)
        cli = subprocess.run(["taskset", "-c", str(CLI_CPU), tool] + cli_dev + ["-t", str(secs)] +
                             client_args, capture_output=True, text=True, timeout=secs + 90)
        if cli.returncode != 0:
            raise RuntimeError(f"{os.path.basename(tool)} client exit {cli.returncode}: "
                               f"{(cli.stdout + cli.stderr).strip()[-300:]}")
    finally:
        kill_group(srv, 10)
    sout = sout()
    if "RESULT" not in sout:
        if is_echo:  # demi-echo's servers print none
            return result_kv(cli.stdout), {}
        raise RuntimeError(f"{os.path.basename(tool)} server printed no result (exit {srv.returncode}): "
                           f"{sout.strip()[-300:]}")
    return result_kv(cli.stdout), result_kv(sout)


def b_memif_raw(size):
    """The floor: frames through the DPDK memif driver alone, no stack, one in
    flight (round trip), and one way in bursts of 32 (frames/s)."""
    def ping():
        c, _ = memif_pair(tmp, DEMI_PINGPONG, ["bounce"], ["ping", "-n", str(n), "-s", str(size)],
                          cfg.secs + 40)
        if c.get("ok") != "1":
            raise RuntimeError(f"demi-pingpong ping: {c}")
        return {"rtt_p50_us": float(c["rtt_p50_us"]), "rtt_p99_us": float(c["rtt_p99_us"])}

    def count():
        _, s = memif_pair(tmp, DEMI_PINGPONG, ["count"], ["blast", "-s", str(size)], cfg.secs)
        if not float(s.get("mpps", 0)):
            raise RuntimeError(f"demi-pingpong count received nothing ({s or 'no result'})")
        return {"mpps": float(s["mpps"])}

    def run(mode, tmp_, cfg_):
        nonlocal tmp, cfg, n
        tmp, cfg = tmp_, cfg_
        n = 20000 if cfg.quick else 200000
        res, notes = {}, []
        for phase in (ping, count) if size <= 64 else (ping,):
            # two busy-polling processes on a loaded 2-core machine: one retry,
            # reported in the report's notes
            try:
                res.update(phase())
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                notes.append(f"{phase.__name__} retried after: {str(e)[:200]}")
                res.update(phase())
        if notes:
            res["_note"] = "; ".join(notes)
        return res
    tmp = cfg = n = None
    return run


def b_kernel_udp_rtt(size, cfg, tmp):
    port = free_port()
    with Server(["sockperf", "sr", "-i", "127.0.0.1", "-p", str(port)],
                Side("kernel", "server", tmp), SRV_CPU):
        out = client(["sockperf", "pp", "-i", "127.0.0.1", "-p", str(port), "-m", str(size), "-t",
                      str(cfg.secs), "--full-rtt"] + SOCKPERF_MPS, Side("kernel", "client", tmp), CLI_CPU,
                     timeout=cfg.secs + 60)
    pct = parse_sockperf(out)
    return {"rtt_p50_us": pct[50.0], "rtt_p99_us": pct[99.0]}


def b_udp_rtt(size):
    """UDP round trip: the kernel (sockperf, loopback, 2 cores) against two stacks over memif."""
    def run(mode, tmp, cfg):
        if not is_demi(mode):
            return b_kernel_udp_rtt(size, cfg, tmp)
        n = 20000 if cfg.quick else 200000
        c, _ = memif_pair(tmp, DEMI_ECHO, ["server", "udp", "7"],
                          ["pingpong", "udp", f"{SRV_IP}:7", "-n", str(n), "-s", str(size)],
                          cfg.secs + 20)
        if c.get("ok") != "1":
            raise RuntimeError(f"demi-echo pingpong: {c}")
        return {"rtt_p50_us": float(c["rtt_p50_us"]), "rtt_p99_us": float(c["rtt_p99_us"]),
                "echo_per_s": float(c["rtt_per_s"])}
    return run


def b_tcp_rtt_stack(size):
    """TCP round trip, the stack alone: two stacks over memif (demi-echo), no shim;
    the kernel column is sockperf's TCP on loopback (2 cores)."""
    def run(mode, tmp, cfg):
        if not is_demi(mode):
            r = b_sockperf(size)(mode, tmp, cfg)
            return {k: r[k] for k in ("rtt_p50_us", "rtt_p99_us")}
        n = 20000 if cfg.quick else 200000
        c, _ = memif_pair(tmp, DEMI_ECHO, ["server", "tcp", "7"],
                          ["pingpong", "tcp", f"{SRV_IP}:7", "-n", str(n), "-s", str(size)],
                          cfg.secs + 20)
        if c.get("ok") != "1":
            raise RuntimeError(f"demi-echo pingpong: {c}")
        return {"rtt_p50_us": float(c["rtt_p50_us"]), "rtt_p99_us": float(c["rtt_p99_us"]),
                "echo_per_s": float(c["rtt_per_s"])}
    return run


def b_udp_pps(mode, tmp, cfg):
    """One-way 64-byte UDP datagrams per second into one stack on one core, from
    another over memif (demi-echo blast -> sink)."""
    _, s = memif_pair(tmp, DEMI_ECHO, ["sink", "udp", "9"],
                      ["blast", "udp", f"{SRV_IP}:9", "-s", "64"], cfg.secs)
    if not s:
        raise RuntimeError("the sink printed no result")
    return {"mpps": float(s["pps"]) / 1e6}


def b_tcp_echo_msgs(mode, tmp, cfg):
    """TCP echo, the stack alone: 64 connections from one stack, each with one
    64-byte message in flight, echoed by another stack on one core over memif
    (demi-echo mping -> mserver), every echo checked. Messages per second
    through the server's core; the goal is 2 M/s, the raw memif frame rate
    (memif_raw_64B mpps) is the ceiling."""
    n = 100000 if cfg.quick else 1000000
    c, s = memif_pair(tmp, DEMI_ECHO, ["mserver", "tcp", "7"],
                      ["mping", "tcp", f"{SRV_IP}:7", "-n", str(n), "-s", "64", "-w", "64"],
                      cfg.secs + 40)
    if c.get("ok") != "1":
        raise RuntimeError(f"demi-echo mping: {c}")
    return {"mmsgs_per_s": float(c["msgs_per_s"]) / 1e6,
            "goal_share": float(c["msgs_per_s"]) / 2e6}


def b_tcp_stream_stack(mode, tmp, cfg):
    """One TCP stream between two stacks over memif (demi-echo client -1 -> sink)."""
    c, s = memif_pair(tmp, DEMI_ECHO, ["sink", "tcp", "9"],
                      ["client", "tcp", f"{SRV_IP}:9", "-n", str(512 << 20), "-1"], cfg.secs + 20)
    v = s.get("mbit_per_s") or c.get("mbit_per_s")
    if not v:
        raise RuntimeError(f"demi-echo stream: {c} {s}")
    return {"gbit_per_s": float(v) / 1e3}


class B:
    """One benchmark: its modes, and for the report its section, the kernel
    modes to compare with, and where its floor comes from."""

    def __init__(self, name, fn, section, quick=False, modes=("kernel", "demi"), floor=None,
                 shim=True):
        self.name, self.fn, self.section, self.quick = name, fn, section, quick
        self.modes, self.floor, self.shim = modes, floor, shim


LAT, SRV, START, SCALE, STACK = ("Latency", "Servers", "Start-up", "Scale", "The stack alone")
BENCHES = [
    B("memif_raw_64B", b_memif_raw(64), LAT, True, ("floor",), shim=False),
    B("memif_raw_1KiB", b_memif_raw(1024 + 54), LAT, False, ("floor",), shim=False),
    B("sockperf_64B", b_sockperf(64), LAT, True, ("kernel", "kernel_1cpu", "demi"),
      floor="memif_raw_64B"),
    B("sockperf_1KiB", b_sockperf(1024), LAT, False, ("kernel", "kernel_1cpu", "demi"),
      floor="memif_raw_1KiB"),
    B("nginx_c32", b_nginx(32), SRV, True),
    B("nginx_c256", b_nginx(256), SRV),
    B("nginx_veth_af_xdp", b_nginx_veth("af_xdp"), SRV),
    B("nginx_veth_xdp", b_nginx_veth("xdp"), SRV),
    B("nginx_synflood", b_nginx_synflood, SRV),
    B("connrate", b_nginx(32, close=True), SRV),
    B("redis_P1", b_redis(1), SRV),
    B("redis_P16", b_redis(16), SRV),
    B("memcached", b_memcached, SRV),
    B("iperf3", b_iperf3, SRV),
    B("startup_noconf", b_startup(False), START, True),
    B("startup_conf", b_startup(True), START),
    B("scale_idle_conns", b_scale, SCALE, True),
    B("co_switch", b_coswitch, STACK, True, shim=False),
    B("tcp_rtt_stack_64B", b_tcp_rtt_stack(64), STACK, True, floor="memif_raw_64B", shim=False),
    B("udp_rtt_64B", b_udp_rtt(64), STACK, False, floor="memif_raw_64B", shim=False),
    B("udp_pps_64B", b_udp_pps, STACK, False, ("demi",), floor="memif_raw_64B", shim=False),
    B("tcp_stream_stack", b_tcp_stream_stack, STACK, False, ("demi",), shim=False),
    B("tcp_echo_msgs_64B", b_tcp_echo_msgs, STACK, True, ("demi",), floor="memif_raw_64B",
      shim=False),
]
LOWER_IS_BETTER = re.compile(r"(_us|_ms|_ns|_kib|_mib|syscalls|errors|_per_req)$")


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "?")
    dpdk = sh("pkg-config --modversion libdpdk").stdout.strip() or "?"
    ver = {}
    for name, cmd in (("nginx", "nginx -v"), ("redis", "redis-server --version"),
                      ("memcached", "memcached -V"), ("sockperf", "sockperf --version"),
                      ("wrk", "wrk -v"), ("iperf3", "iperf3 -v")):
        with contextlib.suppress(Exception):
            o = sh(cmd, timeout=10)
            m = re.search(r"(\d+\.\d+(\.\d+)?)", o.stdout + o.stderr)
            ver[name] = m.group(1) if m else "?"
    load = open("/proc/loadavg").read().split()[:3]
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(), "dpdk": dpdk,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "tools": ver,
            "loadavg_start": " ".join(load),
            "commit": sh(["git", "-C", TOP, "rev-parse", "--short", "HEAD"]).stdout.strip()}


def med(vals):
    return statistics.median(vals) if vals else None


def ratio(metric, k, d):
    if k is None or d is None or k == 0 or d == 0:
        return None
    return k / d if LOWER_IS_BETTER.search(metric) else d / k


def fmt(v):
    if v is None:
        return "n/a"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def cell(r, mode, metric):
    """The median, or the error of that mode when it produced no number."""
    vals = r["modes"].get(mode, {}).get(metric, [])
    if vals:
        return fmt(med(vals))
    errs = r["errors"].get(mode, [])
    if errs and not any(r["modes"].get(mode, {}).values()):
        return "**error E%d**" % errs[0][0]
    return "n/a" if mode in r["modes"] else ""


FLOOR_OF = {"rtt_p50_us": "rtt_p50_us", "rtt_p99_us": "rtt_p99_us", "mpps": "mpps",
            "gbit_per_s": "gbit_per_s", "mmsgs_per_s": "mpps"}

NOTES = {
    LAT: "TCP ping-pong (sockperf), one message in flight: round-trip time in µs. The kernel runs "
         "on loopback twice: server on cpu1 and client on cpu0 (\"2 cores\": every wake-up crosses "
         "cores, and an idle vCPU of this VM halts and exits to the host, which costs tens of µs), "
         "and both ends on cpu0 (\"1 core\": no cross-core wake-up, the kernel's best case here). "
         "libdemi always runs server on cpu1 and client on cpu0, each end under the shim "
         "busy-polling its own core, joined by memif. Ratios compare libdemi with each kernel "
         "placement. Floor: raw frames of the same size through the DPDK memif driver alone "
         "(tools/net/demi-pingpong), no stack (p50/p99 only).",
    SRV: "Unmodified servers on cpu1, their load generators on cpu0. Kernel: loopback. libdemi: "
         "server and client both under the shim, joined by memif. nginx: 1 worker, a 600-byte "
         "static page, wrk -t1 (connrate: wrk with \"Connection: close\", one new TCP connection "
         "per request). redis: redis-benchmark -c 50, -P 1 and -P 16. memcached -t 2: memcaslap "
         "-T 1 -c 16. iperf3: one stream (tcp_stream_stack below: the same between two stacks "
         "without the shim). sock_errors: wrk's socket errors (connect/read/write/"
         "timeout), a few of which are tolerated and shown. worker_syscalls_per_req: system "
         "calls the nginx worker made per request while wrk ran (perf stat, "
         "raw_syscalls:sys_enter), with open_file_cache on; worker_nonfile_syscalls_per_req: "
         "the same without file I/O (pread64, sendfile64, openat, newfstatat, statx: under "
         "libdemi nginx's sendfile reads the page with pread). nginx_veth_af_xdp / "
         "nginx_veth_xdp: the same nginx in a namespace on one end of a veth, wrk -c32 on the "
         "kernel in another namespace at the other end; kernel column: the kernel's nginx on "
         "that veth; libdemi column: nginx under the shim on an AF_XDP socket of the veth, the "
         "whole queue (af_xdp:) or shared with the kernel by our XDP program (xdp:, the "
         "kernel keeps the address and the other ports).",
    START: "Per-process start-up of programs that open no socket, median of many runs: "
           "startup_noconf with LD_PRELOAD and no configuration (nothing may start), "
           "startup_conf with a memif configuration (the stack starts only when a bypassed "
           "socket needs packets, so nothing may start either). true_syscalls: system calls "
           "of /bin/true under strace. A run in which the preload made a thread, socket, "
           "memfd or timer is reported as an error.",
    SCALE: "N idle TCP connections (10,000; 1,000 with --quick) from a client to a server, both "
           "tools/bench/conn_hold, both under the shim over memif for libdemi. server_rss_kib: "
           "growth of the server's resident memory (hugetlb included) per connection; "
           "slab_both_ends_kib: growth per connection of the kernel's socket slab caches "
           "(/proc/slabinfo: TCP, sock_inode_cache, filp, dentry, eventpoll_epi...; both ends "
           "on the kernel; under libdemi, the kernel socket that backs every fd), "
           "system-wide and so somewhat noisy; per_conn_kib = server_rss + slab / 2. "
           "server_base_mib: the server's resident memory before the first connection.",
    STACK: "The stack without the shim. co_switch: our coroutine switch (libdemi column) against "
           "glibc's swapcontext (kernel column). tcp_rtt_stack / udp_rtt: two stacks "
           "(tools/net/demi-echo pingpong) over memif against the kernel on loopback (sockperf, "
           "2 cores); echo_per_s: round trips per second, one in flight. udp_pps: 64-byte "
           "datagrams per second into one stack on one core, one way. tcp_stream_stack: one TCP "
           "stream between two stacks. tcp_echo_msgs: 64 connections, one 64-byte message in "
           "flight on each, echoed by one stack on one core (demi-echo mping/mserver), in "
           "millions of messages per second (mmsgs_per_s) and as a share of the 2 M/s goal; "
           "its floor is the raw frame rate one way. Floor: the raw memif driver (round trip, "
           "frames/s).",
}


def metric_key(m):
    """Rates first, then latencies from the median out, then the rest."""
    order = ["req_per_s", "conn_per_s", "get_per_s", "set_per_s", "ops_per_s", "gbit_per_s",
             "mpps", "mmsgs_per_s", "goal_share", "echo_per_s", "rtt_p50_us", "p50_us", "get_p50_us", "set_p50_us",
             "rtt_p99_us", "p99_us", "rtt_p999_us", "worker_syscalls_per_req", "worker_nonfile_syscalls_per_req", "per_conn_kib", "server_rss_kib",
             "slab_both_ends_kib", "server_base_mib"]
    return (order.index(m) if m in order else len(order), m)


def floor_value(results, b, metric):
    if not b.floor or b.floor not in results or metric not in FLOOR_OF:
        return None
    return med(results[b.floor]["modes"].get("floor", {}).get(FLOOR_OF[metric], [])
               or results[b.floor]["modes"].get("demi", {}).get(FLOOR_OF[metric], []))


HEADLINES = [
    ("sockperf_64B", "rtt_p50_us", "kernel_1cpu", "TCP ping-pong 64 B, RTT p50 (µs)"),
    ("sockperf_64B", "rtt_p99_us", "kernel_1cpu", "TCP ping-pong 64 B, RTT p99 (µs)"),
    ("nginx_c32", "req_per_s", "kernel", "nginx, wrk -c32 (req/s)"),
    ("nginx_c256", "req_per_s", "kernel", "nginx, wrk -c256 (req/s)"),
    ("connrate", "conn_per_s", "kernel", "new connections (per s)"),
    ("redis_P1", "get_per_s", "kernel", "redis GET -P 1 (req/s)"),
    ("redis_P16", "get_per_s", "kernel", "redis GET -P 16 (req/s)"),
    ("memcached", "ops_per_s", "kernel", "memcached (ops/s)"),
    ("iperf3", "gbit_per_s", "kernel", "iperf3, one stream (Gbit/s)"),
    ("startup_noconf", "python_ms", "kernel", "python3 -c pass, no config (ms)"),
    ("scale_idle_conns", "per_conn_kib", "kernel", "memory per idle connection (KiB)"),
]


def summary(results):
    """A few headline numbers; the kernel's latency is its best placement (1 core)."""
    rows = []
    for bench, metric, km, label in HEADLINES:
        r = results.get(bench)
        if not r:
            continue
        k = med(r["modes"].get(km, {}).get(metric, []))
        d = med(r["modes"].get("demi", {}).get(metric, []))
        if k is None and d is None:
            continue
        rt = ratio(metric, k, d)
        dtxt = fmt(d) if d is not None else ("error" if r["errors"].get("demi") else "n/a")
        rows.append(f"| {label} | {fmt(k)} | {dtxt} | {'' if rt is None else f'{rt:.2f}x'} |")
    if not rows:
        return []
    return ["## Summary", "", "| what | kernel | libdemi | ratio |", "| --- | ---: | ---: | ---: |"] \
        + rows + ["", "Latency rows compare with the kernel's best placement here (both ends on one "
                      "core); the tables below also give it on two cores. Under libdemi each end "
                      "busy-polls its core while it has work and for a while after, so it "
                      "spends CPU the kernel would leave idle.", ""]


def report(out_dir, mach, results, demi_ok, demi_why, errors):
    lines = ["# libdemi vs the kernel", "",
             f"{mach['date']} — {mach['cpu']}, {mach['cores']} cores, Linux {mach['kernel']}, "
             f"DPDK {mach['dpdk']}; commit {mach['commit']}; load average at start "
             f"{mach['loadavg_start']}.", "",
             "Tools: " + ", ".join(f"{k} {v}" for k, v in mach["tools"].items()) + ".", "",
             "Medians of alternating runs (kernel, libdemi, kernel, …). ratio > 1 means libdemi "
             "is better: kernel / libdemi for latencies, times and memory, libdemi / kernel "
             "otherwise. On this shared 2-vCPU VM numbers are noisy: compare within one report.",
             ""]
    if not demi_ok:
        lines += [f"libdemi runs through the shim were not possible: {demi_why}", ""]
    lines += summary(results)
    by_section = {}
    for b in BENCHES:
        if b.name in results:
            by_section.setdefault(b.section, []).append(b)
    for section in (LAT, SRV, START, SCALE, STACK):
        if section not in by_section:
            continue
        lines += [f"## {section}", "", NOTES[section], "",
                  "| benchmark | metric | kernel | libdemi | ratio | floor | runs (k/d) |",
                  "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
        for b in by_section[section]:
            r = results[b.name]
            metrics = sorted({m for mv in r["modes"].values() for m in mv}, key=metric_key)
            kmodes = [m for m in b.modes if m.startswith("kernel")]
            for metric in metrics:
                if "floor" in b.modes:
                    vals = r["modes"]["floor"].get(metric, [])
                    lines.append(f"| {b.name} | {metric} | | | | {fmt(med(vals))} | "
                                 f"{len(vals)} |")
                    continue
                d = med(r["modes"].get("demi", {}).get(metric, []))
                fl = floor_value(results, b, metric)
                for km in kmodes or [None]:
                    k = med(r["modes"].get(km, {}).get(metric, [])) if km else None
                    rt = ratio(metric, k, d)
                    label = b.name + (f", {MODE_LABEL[km]}" if len(kmodes) > 1 else "")
                    nk = len(r["modes"].get(km, {}).get(metric, [])) if km else 0
                    nd = len(r["modes"].get("demi", {}).get(metric, []))
                    lines.append(f"| {label} | {metric} | {cell(r, km, metric) if km else ''} | "
                                 f"{cell(r, 'demi', metric)} | "
                                 f"{'' if rt is None else f'{rt:.2f}x'} | "
                                 f"{'' if fl is None else fmt(fl)} | {nk}/{nd} |")
            if not metrics:
                for mode in b.modes:
                    for eid, _ in r["errors"].get(mode, [])[:1]:
                        lines.append(f"| {b.name} | ({MODE_LABEL[mode]}) | | **error E{eid}** "
                                     f"| | | |")
        lines.append("")
    ev = [(b.name, r["stack"]["demi"]) for b in BENCHES
          if (r := results.get(b.name)) and r.get("stack", {}).get("demi")]
    if ev:
        lines += ["## Through the stack", "",
                  "Every libdemi run uses on_error = fail, and after it the server's stack counters "
                  "(/dev/shm/demi.PID.N) must show at least the traffic the run moved, or the run "
                  "is an error. Last run of each row:", ""]
        lines += [f"- {name}: {e}" for name, e in ev] + [""]
    notes = [(b.name, n) for b in BENCHES if (r := results.get(b.name)) for n in r.get("notes", [])]
    if notes:
        lines += ["## Notes", ""] + [f"- {name}, {n}" for name, n in notes] + [""]
    if errors:
        lines += ["## Errors", "",
                  "A run that failed shows its error here; its row shows the error number "
                  "instead of a value when no run of that side succeeded.", ""]
        for eid, name, mode, rnd, msg in errors:
            msg = msg.replace("|", "/").replace("\n", " ")
            lines.append(f"- E{eid}: {name}, {MODE_LABEL.get(mode, mode)}, round {rnd}: {msg}")
        lines.append("")
    pngs = [p for p in ("latency_dist.png", "requests.png", "memory.png", "stack.png")
            if os.path.exists(os.path.join(out_dir, p))]
    if pngs:
        lines += ["## Plots", ""] + [f"![{p[:-4]}]({p})" for p in pngs] + [""]
    if os.path.exists(os.path.join(out_dir, "PROFILE.md")):
        lines += ["Profiles of the main paths under libdemi: [PROFILE.md](PROFILE.md).", ""]
    with open(os.path.join(out_dir, "REPORT.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump({"machine": mach, "results": results, "errors": errors}, f, indent=1)


# ------------------------------------------------------------------ plots

def gnuplot(script):
    r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True, timeout=60)
    if r.returncode != 0:
        log("gnuplot: " + r.stderr.strip()[-300:])


def plots(out_dir, results):
    """PNG plots with gnuplot: latency distributions, request rates, memory per
    connection, the stack alone."""
    if not shutil.which("gnuplot"):
        log("gnuplot not found: no plots")
        return
    with tempfile.TemporaryDirectory(prefix="demi-plot-") as data:
        plots_in(out_dir, results, data)


def plots_in(out_dir, results, data):
    term = "set terminal pngcairo size 1100,560 font ',10' noenhanced\n"
    # latency distributions: percentile -> RTT per placement
    panels = []
    for size in ("64B", "1KiB"):
        r = results.get(f"sockperf_{size}")
        if not r:
            continue
        pcts = [25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99]
        series = []
        for mode in ("kernel", "kernel_1cpu", "demi"):
            dists = r["dist"].get(mode, [])
            if not dists:
                continue
            fn = os.path.join(data, f"dist_{size}_{mode}.dat")
            with open(fn, "w") as f:
                for i, p in enumerate(pcts):
                    vals = [d[str(p)] if str(p) in d else d.get(p) for d in dists]
                    vals = [v for v in vals if v is not None]
                    if vals:
                        f.write(f'{i} "{p:g}" {med(vals)}\n')
            series.append(f'"{fn}" using 1:3:xtic(2) with linespoints lw 2 title "{MODE_LABEL[mode]}"')
        fl = results.get("memif_raw_" + size if size == "64B" else "memif_raw_1KiB")
        if fl and fl["modes"].get("floor", {}).get("rtt_p50_us"):
            fn = os.path.join(data, f"dist_{size}_floor.dat")
            with open(fn, "w") as f:
                f.write(f'1 "50" {med(fl["modes"]["floor"]["rtt_p50_us"])}\n')
                f.write(f'4 "99" {med(fl["modes"]["floor"]["rtt_p99_us"])}\n')
            series.append(f'"{fn}" using 1:3 with linespoints lw 2 dt 2 title "floor (raw memif)"')
        if series:
            panels.append(f'set title "TCP ping-pong {size}: RTT by percentile (log)"\n'
                          f'plot ' + ", ".join(series) + "\n")
    if panels:
        gnuplot(term.replace("560", str(420 * len(panels))) +
                f'set output "{out_dir}/latency_dist.png"\nset multiplot layout {len(panels)},1\n'
                'set logscale y\nset ylabel "RTT (µs)"\nset xlabel "percentile"\nset grid\n'
                'set key top left\n' + "".join(panels) + "unset multiplot\n")
    # bars: kernel vs libdemi for a set of (bench, metric)
    def bars(name, title, picks, ylabel, logy=True):
        rows = []
        for bench, metric, kmode in picks:
            r = results.get(bench)
            if not r:
                continue
            k = med(r["modes"].get(kmode, {}).get(metric, [])) or 0
            d = med(r["modes"].get("demi", {}).get(metric, [])) or 0
            if k or d:
                rows.append((f"{bench} {metric}", k, d))
        if not rows:
            return
        fn = os.path.join(data, f"{name}.dat")
        with open(fn, "w") as f:
            for label, k, d in rows:
                f.write(f'"{label}" {k} {d}\n')
        gnuplot(term + f'set output "{out_dir}/{name}.png"\nset style data histograms\n'
                'set style histogram clustered gap 1\nset style fill solid 0.85 border -1\n'
                + ("set logscale y\n" if logy else
                   f"set yrange [0:{max(max(k, d) for _, k, d in rows) * 1.15 or 1}]\n") +
                f'set xtics rotate by -30 left\nset key top right\nset grid ytics\n'
                f'set ylabel "{ylabel}"\nset title "{title}"\nset bmargin 12\n'
                f'plot "{fn}" using 2:xtic(1) title "kernel", "" using 3 title "libdemi"\n')
    bars("requests", "Requests per second (log scale; 0 = failed)",
         [("nginx_c32", "req_per_s", "kernel"), ("nginx_c256", "req_per_s", "kernel"),
          ("connrate", "conn_per_s", "kernel"), ("redis_P1", "get_per_s", "kernel"),
          ("redis_P1", "set_per_s", "kernel"), ("redis_P16", "get_per_s", "kernel"),
          ("redis_P16", "set_per_s", "kernel"), ("memcached", "ops_per_s", "kernel")], "per second")
    bars("memory", "Memory per idle TCP connection (KiB)",
         [("scale_idle_conns", "server_rss_kib", "kernel"),
          ("scale_idle_conns", "slab_both_ends_kib", "kernel"),
          ("scale_idle_conns", "per_conn_kib", "kernel")], "KiB per connection", logy=False)
    bars("stack", "The stack alone vs the kernel: round trip (µs) and switch (ns), log scale",
         [("tcp_rtt_stack_64B", "rtt_p50_us", "kernel"), ("tcp_rtt_stack_64B", "rtt_p99_us", "kernel"),
          ("udp_rtt_64B", "rtt_p50_us", "kernel"), ("udp_rtt_64B", "rtt_p99_us", "kernel"),
          ("co_switch", "switch_ns", "kernel")], "µs / ns")


# --------------------------------------------------------------- profile

def perf_top(data, sort, limit, comms=None):
    argv = ["perf", "report", "-i", data, "--no-children", "--stdio", "--sort", sort,
            "--percent-limit", "0.2", "-g", "none"]
    if comms:
        argv += ["--comms", comms]
    out = sh(argv, timeout=120).stdout
    rows = []
    for line in out.splitlines():
        m = re.match(r"^\s+([\d.]+)%\s+(.*\S)\s*$", line)
        if m:
            rows.append((float(m.group(1)), re.sub(r"\s{2,}", "  ", m.group(2))))
        if len(rows) >= limit:
            break
    return rows


def profile_pair(tmp, name, start_server, client_argv, client_env, server_pids, warm=1.0,
                 secs=4):
    """perf record (cpu-clock, call graphs) attached to the server and client
    processes once the client measures (after warm seconds)."""
    data = os.path.join(tmp, f"{name}.perf")
    cout = os.path.join(tmp, f"{name}.client.out")
    with start_server() as s, open(cout, "w") as co:
        c = subprocess.Popen(["taskset", "-c", str(CLI_CPU)] + client_argv, env=client_env,
                             stdout=co, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            time.sleep(warm)
            if c.poll() is not None:
                raise RuntimeError(f"{name} client exited: {open(cout).read().strip()[-300:]}")
            pids = server_pids(s) + [c.pid]
            sh(["perf", "record", "-q", "-e", "cpu-clock", "-g", "-o", data, "-p",
                ",".join(map(str, pids)), "--", "sleep", str(secs)], timeout=secs + 60, check=True)
        finally:
            kill_group(c)
    return data


def children(pid):
    with contextlib.suppress(OSError):
        return [int(x) for x in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    return []


def profile(out_dir, cfg):
    """Where the time goes under libdemi: sockperf ping-pong and nginx+wrk."""
    if not shutil.which("perf"):
        return "perf is not installed"
    hw = sh("perf stat -x, -e instructions true").stderr
    hw_ok = "not supported" not in hw and "<not" not in hw
    lines = ["# Profiles under libdemi", "",
             f"perf record -e cpu-clock -g (timer sampling, 4 s, both processes). Hardware "
             f"counters {'are available' if hw_ok else 'are not available in this VM (perf stat -e instructions: not supported), so cycles are sampled by the cpu-clock timer'}. "
             "Both ends run under the shim over memif, server on cpu1, client on cpu0; "
             "each busy-polls, so polling time shows as time in the driver's rx burst.", ""]
    with tempfile.TemporaryDirectory(prefix="demi-prof-") as tmp:
        demi_configs(tmp)
        os.chmod(tmp, 0o755)
        runs = []
        port, nport = free_port(), free_port()
        srv, cli = sides("demi", tmp)
        ext = ["--load-vma=" + LIB]
        runs.append(("sockperf ping-pong TCP 64 B", "sockperf", lambda: profile_pair(
            tmp, "sockperf",
            lambda: Server(["sockperf", "sr", "--tcp", "-i", SRV_IP, "-p", str(port)] + ext, srv,
                           SRV_CPU),
            ["sockperf", "pp", "--tcp", "-i", SRV_IP, "-p", str(port), "-m", "64", "-t", "30"] + SOCKPERF_MPS + ext,
            cli.env(), lambda s: [s.p.pid], warm=3.0)))  # sockperf warms up for 2 s

        def ng_pids(s):
            # taskset execs nginx: s.p is the master, its child the worker
            return [s.p.pid] + children(s.p.pid)
        runs.append(("nginx (1 worker) + wrk -t1 -c32", "nginx,wrk", lambda: profile_pair(
            tmp, "nginx", lambda: nginx_server("demi", tmp, nport),
            ["wrk", "-t1", "-c32", "-d30s", f"http://{SRV_IP}:{nport}/index.html"], cli.env(),
            ng_pids)))
        for title, comms, go in runs:
            try:
                data = go()
            except Exception as e:
                lines += [f"## {title}", "", f"profile failed: {e}", ""]
                continue
            lines += [f"## {title}", "", "Share of samples by process (server first) and object:", "",
                      "| % | process / object |", "| ---: | --- |"]
            lines += [f"| {p:.1f} | {w} |" for p, w in perf_top(data, "pid,dso", 14)]
            for comm in comms.split(","):
                lines += ["", f"Top functions in {comm} (self time, % of all samples):", "",
                          "| % | object / function |", "| ---: | --- |"]
                lines += [f"| {p:.1f} | {w} |" for p, w in perf_top(data, "dso,sym", 25, comm)]
            lines.append("")
        lines += syscalls_per_request(tmp)
    lines += ["## How to read these", "",
              "- `eth_memif_rx`, `dpdk_rx_burst`, `eth_memif_tx`: the memif driver, polling "
              "its rings and moving frames; with one message in flight most of it is empty "
              "polls.",
              "- `rt_wait`, `inst_lock`, `sched_pass`, `demi_co_swap`, `co_yield`, `stack_poll`, "
              "`tw_run`: the runtime's wait loop: an application call that would block runs "
              "scheduler passes (poll coroutine, timers) until its condition holds; each pass "
              "takes the instance lock and switches coroutines.",
              "- `__vdso_clock_gettime` / `clock_gettime`: clock reads, mostly from the wait "
              "loop's deadline and timer checks.",
              "- `cksum_partial`: software TCP/IP checksums (memif offers no offload).",
              "- `finish_task_switch`, `do_sys_poll`, `__x64_sys_ppoll`: the process slept "
              "(spin, then sleep when idle) and was woken; time of the kernel, not of the "
              "stack.",
              "- `path_openat`, `do_dentry_open`, `__fput`: nginx opening and closing the page "
              "for every request (no open_file_cache).", ""]
    with open(os.path.join(out_dir, "PROFILE.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return None


def syscalls_per_request(tmp):
    """Which system calls the nginx worker still makes under libdemi, per
    request (perf trace -s over a short wrk run; tracing slows the worker, the
    counts per request stay)."""
    lines = ["## System calls of the nginx worker under libdemi", ""]
    port = free_port()
    trace = os.path.join(tmp, "trace.txt")
    try:
        with nginx_server("demi", tmp, port) as srv:
            pids = children(srv.p.pid)
            if not pids:
                raise RuntimeError("no nginx worker")
            pt = subprocess.Popen(["perf", "trace", "-s", "-o", trace, "-p", str(pids[0])],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.3)
            try:
                out = client(["wrk", "-t1", "-c32", "-d3s", f"http://{SRV_IP}:{port}/index.html"],
                             Side("demi", "client", tmp), CLI_CPU, timeout=60)
            finally:
                pt.send_signal(signal.SIGINT)
                pt.wait(10)
        n = int(re.search(r"(\d+) requests in", out).group(1))
        rows = []
        for line in open(trace):
            m = re.match(r"^\s+([a-z_0-9]+)\s+(\d+)\s+\d+\s", line)
            if m:
                rows.append((m.group(1), int(m.group(2))))
        agg = {}
        for name, calls in rows:  # one table per thread: add them up
            agg[name] = agg.get(name, 0) + calls
        lines += [f"{n} requests (wrk -t1 -c32, 3 s, slowed by the tracing).", "",
                  "| system call | calls | per request |", "| --- | ---: | ---: |"]
        for name, calls in sorted(agg.items(), key=lambda x: -x[1])[:12]:
            lines.append(f"| {name} | {calls} | {calls / max(n, 1):.2f} |")
    except Exception as e:
        lines.append(f"not measured: {e}")
    return lines + [""]


def demi_available():
    if not os.path.exists(LIB):
        return False, "build/libdemi.so is not built"
    if os.geteuid() != 0:
        return False, "needs root (DPDK memif)"
    return True, ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 round, short, a subset")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--secs", type=int, default=None, help="seconds per timed run")
    ap.add_argument("--out", default=None)
    ap.add_argument("--only", default=None)
    ap.add_argument("--kernel-only", action="store_true")
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--profile-only", action="store_true")
    cfg = ap.parse_args()
    cfg.secs = cfg.secs or (1 if cfg.quick else 5)
    rounds = 1 if cfg.quick else cfg.rounds
    out_dir = cfg.out or os.path.join(TOP, "bench", "results",
                                      time.strftime("%Y%m%d-%H%M%S") + ("-quick" if cfg.quick else ""))
    os.makedirs(out_dir, exist_ok=True)
    demi_ok, why = demi_available()
    if cfg.kernel_only:
        demi_ok, why = False, "--kernel-only"
    mach = machine()
    if cfg.profile_only:
        err = profile(out_dir, cfg)
        print(err or open(os.path.join(out_dir, "PROFILE.md")).read())
        return 1 if err else 0
    results, errors = {}, []
    only = set(cfg.only.split(",")) if cfg.only else None
    t_start = time.time()
    for b in BENCHES:
        if (cfg.quick and not b.quick) or (only and b.name not in only):
            continue
        r = results[b.name] = {"modes": {m: {} for m in b.modes}, "errors": {}, "dist": {}}
        hung = set()
        for i in range(rounds):
            for mode in b.modes:
                if mode in ("demi", "floor") and not demi_ok and (
                        b.shim or os.geteuid() != 0 or cfg.kernel_only):
                    continue
                if mode in hung:
                    log(f"{b.name} {mode} round {i + 1}: skipped (hung before)")
                    continue
                with tempfile.TemporaryDirectory(prefix="demi-bench-") as tmp:
                    os.chmod(tmp, 0o755)
                    demi_configs(tmp)
                    try:
                        try:
                            vals = b.fn(mode, tmp, cfg)
                        except Exception as e:
                            # --quick has one round, and a libdemi run can fail on a
                            # loaded machine: one retry, listed in the report's Notes
                            if not cfg.quick or mode not in ("demi", "floor"):
                                raise
                            first = str(e).strip()[:200]
                            log(f"{b.name} {mode} round {i + 1}: retried after: {first}")
                            demi_configs(tmp)
                            vals = b.fn(mode, tmp, cfg)
                            vals["_note"] = "; ".join(filter(None, [vals.get("_note"),
                                                                     "retried after: " + first]))
                    except Exception as e:  # one failed run is reported, the rest go on
                        msg = (str(e) if isinstance(e, RuntimeError)
                               else f"{type(e).__name__}: {e}").strip()[:300]
                        if isinstance(e, Hang) and i + 1 < rounds:
                            msg += " (later rounds of this side skipped)"
                        eid = len(errors) + 1
                        errors.append((eid, b.name, mode, i + 1, msg))
                        r["errors"].setdefault(mode, []).append((eid, msg))
                        log(f"{b.name} {mode} round {i + 1}: ERROR {msg}")
                        if isinstance(e, Hang):
                            hung.add(mode)
                        continue
                ev, note = vals.pop("_stack", None), vals.pop("_note", None)
                if ev:
                    r.setdefault("stack", {})[mode] = ev
                if note:
                    r.setdefault("notes", []).append(f"{MODE_LABEL.get(mode, mode)}, round {i + 1}: "
                                                     + note)
                dist = vals.pop("_dist", None)
                if dist:
                    r["dist"].setdefault(mode, []).append({str(k): v for k, v in dist.items()})
                for k, v in vals.items():
                    r["modes"][mode].setdefault(k, []).append(v)
                log(f"{b.name} {mode} round {i + 1}: "
                    + ", ".join(f"{k}={fmt(v)}" for k, v in vals.items()))
    log(f"benchmarks took {time.time() - t_start:.0f} s")
    if demi_ok and not cfg.quick and not cfg.no_profile and not only:
        err = profile(out_dir, cfg)
        if err:
            log("profile: " + err)
    plots(out_dir, results)
    report(out_dir, mach, results, demi_ok, why, errors)
    print(open(os.path.join(out_dir, "REPORT.md")).read())
    print(f"report: {out_dir}/REPORT.md")
    ok = any(v for r in results.values() for mv in r["modes"].values() for v in mv.values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
