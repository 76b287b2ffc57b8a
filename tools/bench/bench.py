#!/usr/bin/python3
"""libdemi against the kernel, measured with the users' own tools.

Each benchmark runs on the kernel (loopback) and under libdemi (both ends
under the shim, joined by memif), alternating A B A B, and reports medians
and ratios in REPORT.md with PNG plots. Numbers on a shared 2-core VM are
noisy: compare within one run only.

    tools/bench/bench.py [--quick] [--rounds N] [--out DIR] [--only NAME,...]
"""
import argparse
import contextlib
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIB = os.path.join(TOP, "build", "libdemi.so")
SRV_IP, CLI_IP = "198.18.10.1", "198.18.10.2"


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


class Side:
    """Where one end of a benchmark runs: the kernel, or libdemi over memif."""

    def __init__(self, mode, role, tmp):
        self.mode, self.role, self.tmp = mode, role, tmp

    def env(self):
        e = dict(os.environ)
        if self.mode == "demi":
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
                    f"[log]\nlevel = warn\n")


class Server:
    """A server process pinned to a CPU, killed (with its children) on exit."""

    def __init__(self, argv, side, cpu, ready_port=None, host="127.0.0.1"):
        self.argv, self.side, self.cpu = argv, side, cpu
        self.ready_port, self.host = ready_port, host

    def __enter__(self):
        self.out = tempfile.TemporaryFile()
        self.p = subprocess.Popen(["taskset", "-c", str(self.cpu)] + self.argv, env=self.side.env(),
                                  stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True)
        if self.ready_port and self.side.mode == "kernel":
            if not wait_port(self.host, self.ready_port):
                raise RuntimeError(f"{self.argv[0]} did not start: {self.output()}")
        else:
            time.sleep(1.0 if self.side.mode == "demi" else 0.3)
        if self.p.poll() is not None:
            raise RuntimeError(f"{self.argv[0]} exited: {self.output()}")
        return self

    def output(self):
        self.out.seek(0)
        return self.out.read().decode(errors="replace")[-600:]

    def __exit__(self, *exc):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.p.pid, signal.SIGTERM)
        try:
            self.p.wait(3)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait()


def client(argv, side, cpu, timeout=120):
    r = subprocess.run(["taskset", "-c", str(cpu)] + argv, env=side.env(), capture_output=True,
                       text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{argv[0]}: exit {r.returncode}: {(r.stdout + r.stderr)[-600:]}")
    return r.stdout + r.stderr


def addr(mode):
    return "127.0.0.1" if mode == "kernel" else SRV_IP


# ---------------------------------------------------------------- benchmarks
# Each takes (mode, tmp, cfg) and returns {metric: value}.

def b_sockperf(size, cpus):
    def run(mode, tmp, cfg):
        port = free_port()
        srv, cli = Side(mode, "server", tmp), Side(mode, "client", tmp)
        extra = ["--load-vma=" + LIB] if mode == "demi" else []
        with Server(["sockperf", "sr", "--tcp", "-i", addr(mode), "-p", str(port)] + extra, srv,
                    cpus[0], port, addr(mode)):
            out = client(["sockperf", "pp", "--tcp", "-i", addr(mode), "-p", str(port), "-m",
                          str(size), "-t", str(cfg.secs), "--full-rtt"] + extra, cli, cpus[1])
        pct = {float(m.group(1)): float(m.group(2))
               for m in re.finditer(r"percentile\s+([\d.]+)\s*=\s*([\d.]+)", out)}
        if 50.0 not in pct:
            raise RuntimeError("sockperf: no percentiles in output")
        return {"rtt_p50_us": pct[50.0], "rtt_p99_us": pct[99.0], "rtt_p999_us": pct[99.9]}
    return run


NGINX_CONF = """daemon off; master_process on; worker_processes 1; pid {tmp}/nginx.pid;
error_log {tmp}/nginx.err warn; worker_rlimit_nofile 65536;
events {{ worker_connections 20000; }}
http {{ access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;
  server {{ listen {port} backlog=4096; root {tmp}/www; }} }}
"""


def nginx_server(mode, tmp, port):
    os.makedirs(os.path.join(tmp, "www"), exist_ok=True)
    with open(os.path.join(tmp, "www", "index.html"), "w") as f:
        f.write("x" * 600 + "\n")
    conf = os.path.join(tmp, f"nginx-{port}.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(tmp=tmp, port=port))
    return Server(["nginx", "-p", tmp, "-c", conf], Side(mode, "server", tmp), 1, port, addr(mode))


def wrk_parse(out):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for m in re.finditer(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        v = float(m.group(2)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(3)]
        lat[m.group(1)] = v
    errs = re.search(r"Socket errors: (.*)", out)
    if errs:
        raise RuntimeError("wrk socket errors: " + errs.group(1))
    return rps, lat


def b_nginx(conns, close=False):
    def run(mode, tmp, cfg):
        port = free_port()
        with nginx_server(mode, tmp, port):
            argv = ["wrk", "-t1", f"-c{conns}", f"-d{cfg.secs}s", "--latency"]
            if close:
                argv += ["-H", "Connection: close"]
            out = client(argv + [f"http://{addr(mode)}:{port}/index.html"],
                         Side(mode, "client", tmp), 0)
        rps, lat = wrk_parse(out)
        if close:
            return {"conn_per_s": rps}
        return {"req_per_s": rps, "p50_us": lat.get("50", 0), "p99_us": lat.get("99", 0)}
    return run


def b_redis(pipeline):
    def run(mode, tmp, cfg):
        port = free_port()
        with Server(["redis-server", "--port", str(port), "--bind", addr(mode), "--save", "",
                     "--appendonly", "no", "--protected-mode", "no"], Side(mode, "server", tmp), 1,
                    port, addr(mode)):
            n = 20000 if cfg.quick else 200000
            out = client(["redis-benchmark", "-h", addr(mode), "-p", str(port), "-c", "50", "-n",
                          str(n), "-P", str(pipeline), "-t", "set,get", "--csv"],
                         Side(mode, "client", tmp), 0)
        res = {}
        for line in out.splitlines():
            f = [x.strip('"') for x in line.split(",")]
            if f[0] in ("SET", "GET"):
                res[f[0].lower() + "_per_s"] = float(f[1])
        if not res:
            raise RuntimeError("redis-benchmark: no results")
        return res
    return run


def b_memcached(mode, tmp, cfg):
    port = free_port()
    with Server(["memcached", "-U", "0", "-t", "2", "-p", str(port), "-l", addr(mode), "-u",
                 "root"], Side(mode, "server", tmp), 1, port, addr(mode)):
        out = client(["memcaslap", "-s", f"{addr(mode)}:{port}", "-T", "1", "-c", "16", "-t",
                      f"{cfg.secs}s"], Side(mode, "client", tmp), 0, timeout=cfg.secs + 60)
    m = re.findall(r"TPS:\s*(\d+)", out)
    if not m:
        raise RuntimeError("memcaslap: no TPS in output")
    return {"ops_per_s": float(m[-1])}


def b_iperf3(mode, tmp, cfg):
    port = free_port()
    with Server(["iperf3", "-s", "-p", str(port), "-B", addr(mode)], Side(mode, "server", tmp), 1,
                port, addr(mode)):
        out = client(["iperf3", "-c", addr(mode), "-p", str(port), "-t", str(cfg.secs), "-J"],
                     Side(mode, "client", tmp), 0, timeout=cfg.secs + 60)
    j = json.loads(out[out.index("{"):])
    return {"gbit_per_s": j["end"]["sum_received"]["bits_per_second"] / 1e9}


def b_startup(mode, tmp, cfg):
    n = 10 if cfg.quick else 50
    res = {}
    for name, argv in (("true_ms", ["/bin/true"]), ("python_ms", ["/usr/bin/python3", "-c", "pass"])):
        env = Side(mode, "client", tmp).env()
        t0 = time.perf_counter()
        for _ in range(n):
            subprocess.run(argv, env=env, check=True)
        res[name] = (time.perf_counter() - t0) * 1e3 / n
    return res


def b_coswitch(mode, tmp, cfg):
    """The stack alone: our context switch ("libdemi") against swapcontext ("kernel" column)."""
    out = sh([os.path.join(TOP, "build", "bench", "co_switch")], check=True).stdout
    m = re.search(r"%s\s+([\d.]+) ns" % ("co_switch" if mode == "demi" else "swapcontext"), out)
    return {"switch_ns": float(m.group(1))}


# ------------------------------------------------ the stack alone (no shim)
# Two processes joined by memif: the stack through tools/net/demi-echo, and
# raw frames through the driver alone (tools/net/demi-pingpong) as the floor.
DEMI_ECHO = os.path.join(TOP, "build", "demi-echo")
DEMI_PINGPONG = os.path.join(TOP, "build", "demi-pingpong")


def result_kv(out):
    lines = [l for l in out.splitlines() if l.startswith("RESULT")]
    if not lines:
        raise RuntimeError("no RESULT line: " + out[-300:])
    return dict(kv.split("=", 1) for kv in lines[-1].split()[1:] if "=" in kv)


def memif_pair(tmp, tool, server_args, client_args, secs):
    """Server on cpu1 (memif server), client on cpu0; returns both RESULT dicts."""
    for path in (tool,):
        if not os.path.exists(path):
            raise RuntimeError(f"{path} is not built")
    if os.geteuid() != 0:
        raise RuntimeError("needs root (DPDK memif)")
    sock = os.path.join(tmp, "bench-memif.sock")
    is_echo = tool == DEMI_ECHO
    srv_dev = ["-d", f"memif:{sock},role=server"] + (["-a", SRV_IP + "/24"] if is_echo else [])
    cli_dev = ["-d", f"memif:{sock},role=client"] + (["-a", CLI_IP + "/24"] if is_echo else [])
    out = tempfile.TemporaryFile()
    srv = subprocess.Popen(["taskset", "-c", "1", tool] + srv_dev + ["-t", str(secs + 10)] + server_args,
                           stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        end = time.time() + 10
        while time.time() < end and not os.path.exists(sock):
            time.sleep(0.02)
        if is_echo:  # the stack listens a little after the socket file appears
            while time.time() < end:
                out.seek(0)
                if b"listening" in out.read():
                    break
                time.sleep(0.02)
        cli = subprocess.run(["taskset", "-c", "0", tool] + cli_dev + ["-t", str(secs)] + client_args,
                             capture_output=True, text=True, timeout=secs + 60)
        if cli.returncode != 0:
            raise RuntimeError(f"client exit {cli.returncode}: {(cli.stdout + cli.stderr)[-300:]}")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(srv.pid, signal.SIGTERM)
        try:
            srv.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(srv.pid, signal.SIGKILL)
            srv.wait()
    out.seek(0)
    sout = out.read().decode(errors="replace")
    return result_kv(cli.stdout), (result_kv(sout) if "RESULT" in sout else {})


def b_udp_rtt(size):
    """UDP round trip: kernel (sockperf, loopback) against two stacks over memif."""
    def run(mode, tmp, cfg):
        if mode == "kernel":
            port = free_port()
            with Server(["sockperf", "sr", "-i", "127.0.0.1", "-p", str(port)],
                        Side("kernel", "server", tmp), 1):
                out = client(["sockperf", "pp", "-i", "127.0.0.1", "-p", str(port), "-m",
                              str(size), "-t", str(cfg.secs), "--full-rtt"], Side("kernel", "client", tmp), 0)
            pct = {float(m.group(1)): float(m.group(2))
                   for m in re.finditer(r"percentile\s+([\d.]+)\s*=\s*([\d.]+)", out)}
            return {"rtt_p50_us": pct[50.0], "rtt_p99_us": pct[99.0]}
        n = 20000 if cfg.quick else 200000
        c, _ = memif_pair(tmp, DEMI_ECHO, ["server", "udp", "7"],
                          ["pingpong", "udp", f"{SRV_IP}:7", "-n", str(n), "-s", str(size)], cfg.secs + 20)
        if c.get("ok") != "1":
            raise RuntimeError(f"pingpong: {c}")
        return {"rtt_p50_us": float(c["rtt_p50_us"]), "rtt_p99_us": float(c["rtt_p99_us"]),
                "rtt_per_s": float(c["rtt_per_s"])}
    return run


def b_tcp_rtt_stack(size):
    """TCP round trip, the stack alone: two stacks over memif (demi-echo), no shim;
    the kernel column is sockperf's TCP on loopback."""
    def run(mode, tmp, cfg):
        if mode == "kernel":
            return b_sockperf(size, (1, 0))(mode, tmp, cfg)
        n = 20000 if cfg.quick else 200000
        c, _ = memif_pair(tmp, DEMI_ECHO, ["server", "tcp", "7"],
                          ["pingpong", "tcp", f"{SRV_IP}:7", "-n", str(n), "-s", str(size)], cfg.secs + 20)
        if c.get("ok") != "1":
            raise RuntimeError(f"pingpong: {c}")
        return {"rtt_p50_us": float(c["rtt_p50_us"]), "rtt_p99_us": float(c["rtt_p99_us"])}
    return run


def b_udp_pps(mode, tmp, cfg):
    """One-way 64-byte UDP datagrams per second into a stack, from a stack, over memif."""
    if mode == "kernel":
        return {}
    _, s = memif_pair(tmp, DEMI_ECHO, ["sink", "udp", "9"],
                      ["blast", "udp", f"{SRV_IP}:9", "-s", "64"], cfg.secs)
    if not s:
        raise RuntimeError("the sink printed no result")
    return {"mpps": float(s["pps"]) / 1e6}


def b_memif_raw(mode, tmp, cfg):
    """The floor: 64-byte frames through the DPDK driver alone, no stack."""
    if mode == "kernel":
        return {}
    n = 20000 if cfg.quick else 200000
    c, _ = memif_pair(tmp, DEMI_PINGPONG, ["bounce"], ["ping", "-n", str(n)], cfg.secs + 20)
    _, s = memif_pair(tmp, DEMI_PINGPONG, ["count"], ["blast"], cfg.secs)
    return {"rtt_p50_us": float(c["rtt_p50_us"]), "rtt_p99_us": float(c["rtt_p99_us"]),
            "mpps": float(s["mpps"])}


# benchmarks whose libdemi side needs neither the shim nor root
SELF_CONTAINED = {"co_switch", "udp_rtt_64B", "tcp_rtt_stack_64B", "udp_pps_64B", "memif_raw_64B"}

BENCHES = [
    # name, function, quick?, what "better" means per metric (higher/lower)
    ("sockperf_64B_2cpu", b_sockperf(64, (1, 0)), True, "lower"),
    ("sockperf_1KiB_2cpu", b_sockperf(1024, (1, 0)), False, "lower"),
    ("sockperf_64B_1cpu", b_sockperf(64, (0, 0)), False, "lower"),
    ("nginx_c32", b_nginx(32), True, None),
    ("nginx_c256", b_nginx(256), False, None),
    ("connrate", b_nginx(32, close=True), False, "higher"),
    ("redis_P1", b_redis(1), False, "higher"),
    ("redis_P16", b_redis(16), False, "higher"),
    ("memcached", b_memcached, False, "higher"),
    ("iperf3", b_iperf3, False, "higher"),
    ("startup", b_startup, True, "lower"),
    ("co_switch", b_coswitch, True, "lower"),
    ("udp_rtt_64B", b_udp_rtt(64), True, "lower"),
    ("tcp_rtt_stack_64B", b_tcp_rtt_stack(64), False, "lower"),
    ("udp_pps_64B", b_udp_pps, True, "higher"),
    ("memif_raw_64B", b_memif_raw, True, None),
]
LOWER_IS_BETTER = re.compile(r"(_us|_ms|_ns)$")


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    dpdk = sh("pkg-config --modversion libdpdk").stdout.strip() or "?"
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(), "dpdk": dpdk,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def ratio(metric, k, d):
    if k is None or d is None or k == 0 or d == 0:
        return None
    return k / d if LOWER_IS_BETTER.search(metric) else d / k


def fmt(v):
    if v is None:
        return "n/a"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def report(out_dir, mach, results, demi_ok, demi_why):
    lines = ["# libdemi vs the kernel", "",
             f"{mach['date']} — {mach['cpu']}, {mach['cores']} cores, Linux {mach['kernel']}, "
             f"DPDK {mach['dpdk']}.", "",
             "Kernel: both ends on loopback. libdemi: both ends under the shim, joined by memif. "
             "Medians of alternating runs; ratio > 1 means libdemi is better (for latencies and "
             "times: kernel / libdemi; otherwise libdemi / kernel). Server on cpu1, client on "
             "cpu0 unless the name says 1cpu (both on cpu0). co_switch compares our context "
             "switch (libdemi column) with glibc's swapcontext (kernel column). udp_rtt, udp_pps "
             "and memif_raw measure the stack alone, without the shim: two stacks "
             "(tools/net/demi-echo) over memif against the kernel's UDP on loopback (sockperf), "
             "and raw frames through the DPDK driver alone (tools/net/demi-pingpong), the floor.", ""]
    if not demi_ok:
        lines += [f"libdemi runs were not possible: {demi_why}", ""]
    lines += ["| benchmark | metric | kernel | libdemi | ratio | runs (k/d) |",
              "| --- | --- | ---: | ---: | ---: | --- |"]
    for name, r in results.items():
        for metric in sorted(set(r["kernel"]) | set(r["demi"])):
            kv, dv = r["kernel"].get(metric, []), r["demi"].get(metric, [])
            k = statistics.median(kv) if kv else None
            d = statistics.median(dv) if dv else None
            rt = ratio(metric, k, d)
            lines.append(f"| {name} | {metric} | {fmt(k)} | {fmt(d)} | "
                         f"{'n/a' if rt is None else f'{rt:.2f}x'} | {len(kv)}/{len(dv)} |")
        for e in r["errors"]:
            lines.append(f"| {name} | error | {e} | | | |")
    lines += ["", "![throughput](throughput.png)", "", "![latency](latency.png)", ""]
    with open(os.path.join(out_dir, "REPORT.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump({"machine": mach, "results": results}, f, indent=1)


def plots(out_dir, results):
    """Bars of throughput metrics and latency percentiles, kernel vs libdemi, with gnuplot."""
    groups = {"throughput": lambda m: not LOWER_IS_BETTER.search(m),
              "latency": lambda m: m.endswith("_us")}
    for group, want in groups.items():
        rows = []
        for name, r in results.items():
            for metric in sorted(set(r["kernel"]) | set(r["demi"])):
                if not want(metric):
                    continue
                k = statistics.median(r["kernel"][metric]) if r["kernel"].get(metric) else 0
                d = statistics.median(r["demi"][metric]) if r["demi"].get(metric) else 0
                rows.append((f"{name}:{metric}", k, d))
        if not rows:
            continue
        dat = os.path.join(out_dir, f"{group}.dat")
        with open(dat, "w") as f:
            for label, k, d in rows:
                f.write(f'"{label}" {k} {d}\n')
        gp = (f'set terminal pngcairo size 1100,520\nset output "{out_dir}/{group}.png"\n'
              f'set style data histograms\nset style fill solid 0.8\nset logscale y\n'
              f'set xtics rotate by -35\nset key top left\nset grid ytics\n'
              f'set title "{group} (log scale): kernel vs libdemi"\n'
              f'plot "{dat}" using 2:xtic(1) title "kernel", "" using 3 title "libdemi"\n')
        subprocess.run(["gnuplot"], input=gp, text=True, capture_output=True, timeout=30)


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
    ap.add_argument("--out", default=None)
    ap.add_argument("--only", default=None)
    ap.add_argument("--kernel-only", action="store_true")
    cfg = ap.parse_args()
    cfg.secs = 1 if cfg.quick else 5
    rounds = 1 if cfg.quick else cfg.rounds
    out_dir = cfg.out or os.path.join(TOP, "bench", "results",
                                      time.strftime("%Y%m%d-%H%M%S") + ("-quick" if cfg.quick else ""))
    os.makedirs(out_dir, exist_ok=True)
    demi_ok, why = demi_available()
    if cfg.kernel_only:
        demi_ok, why = False, "--kernel-only"
    mach = machine()
    results = {}
    only = set(cfg.only.split(",")) if cfg.only else None
    for name, fn, quick, _ in BENCHES:
        if (cfg.quick and not quick) or (only and name not in only):
            continue
        r = results[name] = {"kernel": {}, "demi": {}, "errors": []}
        for i in range(rounds):
            for mode in ("kernel", "demi"):
                if mode == "demi" and not demi_ok and name not in SELF_CONTAINED:
                    continue
                with tempfile.TemporaryDirectory(prefix="demi-bench-") as tmp:
                    demi_configs(tmp)
                    try:
                        vals = fn(mode, tmp, cfg)
                    except Exception as e:  # one failed run is reported, the rest go on
                        r["errors"].append(f"{mode} round {i + 1}: {str(e)[:200]}")
                        log(f"{name} {mode} round {i + 1}: {e}")
                        continue
                for k, v in vals.items():
                    r[mode].setdefault(k, []).append(v)
                log(f"{name} {mode} round {i + 1}: {vals}")
    report(out_dir, mach, results, demi_ok, why)
    plots(out_dir, results)
    print(open(os.path.join(out_dir, "REPORT.md")).read())
    print(f"report: {out_dir}/REPORT.md")
    ok = any(r["kernel"] for r in results.values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
