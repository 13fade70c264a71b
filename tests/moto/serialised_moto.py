"""moto's server with every request serialised.

moto's threaded server holds no per-item lock, so two overlapping conditional writes to
one item can both succeed, which DynamoDB never allows. One lock around each request
restores DynamoDB's per-item serialisation (see the team's external-apis notes).

Usage: python serialised_moto.py PORT [--parent-pid PID]
Prints "ready <port>" once it accepts connections. With --parent-pid it exits when that
process is gone, so a test run that dies leaves no server behind.
"""

import argparse
import os
import sys
import threading
import time

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server


class Serialised:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            # Consume the whole response under the lock: werkzeug may stream it lazily.
            return list(self.app(environ, start_response))


def watch_parent(pid):
    while True:
        try:
            os.kill(pid, 0)
        except OSError:
            os._exit(0)
        time.sleep(0.5)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--parent-pid", type=int)
    args = parser.parse_args()
    app = Serialised(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, args.port, app, threaded=True)
    if args.parent_pid:
        threading.Thread(target=watch_parent, args=(args.parent_pid,), daemon=True).start()
    print(f"ready {server.server_port}", flush=True)
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
