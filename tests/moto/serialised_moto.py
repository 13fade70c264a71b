"""moto's server with every request serialised.

moto's threaded server holds no per-item lock, so two overlapping conditional writes to
one item can both succeed, which DynamoDB never allows. One lock around each request
restores DynamoDB's per-item serialisation (see the team's external-apis notes). A
cancelled TransactWriteItems is undone from a snapshot of the items it could change,
not a copy of the whole table and its stream (`TableSnapshots`).

Usage: python serialised_moto.py PORT [--parent-pid PID]
Prints "ready <port>" once it accepts connections. With --parent-pid it exits when that
process is gone, so a test run that dies leaves no server behind.
"""

import argparse
import os
import sys
import threading
import time

import copy

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server


class TableSnapshots:
    """The `copy` module as moto's DynamoDB backend sees it, but for one use.

    moto (5.2) deep-copies every table a TransactWriteItems names before it starts, to
    put it back if the transaction is cancelled. The copy takes the table's whole stream
    with it: 0.2 s a transaction at 1,000 stream records, 0.4 s at 2,000, past the
    breaker's 250 ms store timeout in the drill's longer scenarios. A transaction changes
    a table's items and appends to its stream, nothing else: the snapshot copies the
    items and the stream's list of records, and shares the rest. DynamoDB itself copies
    nothing; this keeps moto's cancelled transactions undone, at the cost of the items.
    """

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(obj, memo=None):
        if not isinstance(obj, Table):
            return copy.deepcopy(obj, memo)
        snap = copy.copy(obj)
        snap.items = copy.deepcopy(obj.items)
        if obj.stream_shard is not None:
            shard = copy.copy(obj.stream_shard)
            shard.items = list(obj.stream_shard.items)
            shard.table = snap
            snap.stream_shard = shard
        return snap


dynamodb_models.copy = TableSnapshots()


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
