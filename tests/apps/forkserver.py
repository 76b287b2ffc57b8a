"""Echo servers of the fork-per-connection and prefork models, for
tests/apps/fork_*.sh. Every connection starts with one line from the process
that serves it: "pid PID LOCALADDR:PORT" (the address getsockname gives
there), then echoes until the client's EOF and shuts down its side.

  forkserver.py forking PORT       socketserver.ForkingTCPServer
  forkserver.py prefork PORT N     listen, fork N children that accept in a
                                   loop (the parent never accepts)
"""
import os, signal, socket, socketserver, sys


def serve(s):
    a = s.getsockname()
    s.sendall(b"pid %d %s:%d\n" % (os.getpid(), a[0].encode(), a[1]))
    while True:
        b = s.recv(1 << 16)
        if not b:
            break
        s.sendall(b)
    s.shutdown(socket.SHUT_WR)


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        serve(self.request)


class Server(socketserver.ForkingTCPServer):
    allow_reuse_address = True
    request_queue_size = 64


def prefork(port, n):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(64)
    print("listening", os.getpid(), flush=True)
    kids = []
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            while True:
                c, _ = ls.accept()
                try:
                    serve(c)
                except OSError:  # the test's reachability probe resets
                    pass
                c.close()
        kids.append(pid)
    print("children", " ".join(map(str, kids)), flush=True)

    def stop(*_):
        for k in kids:
            os.kill(k, signal.SIGKILL)
        os._exit(0)
    signal.signal(signal.SIGTERM, stop)
    while True:
        signal.pause()


mode, port = sys.argv[1], int(sys.argv[2])
if mode == "forking":
    with Server(("0.0.0.0", port), Handler) as srv:
        print("listening", os.getpid(), flush=True)
        srv.serve_forever()
else:
    prefork(port, int(sys.argv[3]))
