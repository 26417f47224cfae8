"""Concurrent clients for the chaos runner: each picks a node at random and a protocol (HTTP
or the binary one), sets, deletes or reads one of a few keys, and records the operation
for the linearizability checker: when it was invoked and completed, and its outcome. A
write whose answer never came, or came as an error that does not prove it was refused, has
an unknown outcome: it may have taken effect. Every value written is unique."""

import os
import random
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))
import raftcache_client as rc  # noqa: E402

# Answers that prove a write was refused before anything was proposed.
DEFINITE_HTTP = {400, 404, 409, 413}
DEFINITE_RPC = {"INVALID_ARGUMENT", "NOT_FOUND", "FAILED_PRECONDITION", "RESOURCE_EXHAUSTED", "UNIMPLEMENTED"}


class Workload:
    def __init__(self, nodes, clients=8, keys=8, consistency="linearizable", timeout=1.5):
        self.nodes = nodes
        self.clients = clients
        self.keys = [f"k{i}" for i in range(keys)]
        self.consistency = consistency
        self.timeout = timeout
        self.history = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = []

    def start(self):
        for process in range(self.clients):
            thread = threading.Thread(target=self.client, args=(process,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join()

    def client(self, process):
        rng = random.Random(process * 7919 + os.getpid())
        written = 0
        while not self.stopping.is_set():
            node = rng.choice(self.nodes)
            key = rng.choice(self.keys)
            roll = rng.random()
            if roll < 0.45:
                written += 1
                op, value = "set", f"p{process}-{written}"
            elif roll < 0.55:
                op, value = "delete", None
            else:
                op, value = "get", None
            binary = rng.random() < 0.5
            invoke = time.monotonic()
            outcome, result = self.call_binary(node, op, key, value) if binary else self.call_http(node, op, key, value)
            complete = time.monotonic()
            record = {"process": process, "op": op, "key": key, "value": result if op == "get" else value,
                      "invoke": invoke, "complete": complete if outcome != "unknown" else None, "outcome": outcome,
                      "node": node.id, "protocol": "binary" if binary else "http"}
            with self.lock:
                self.history.append(record)
            if outcome != "ok":
                time.sleep(0.05)  # A node that fails now will fail again at once.

    def call_http(self, node, op, key, value):
        path = f"/api/v1/key/{key}"
        if op == "set":
            request = urllib.request.Request(node.http + path, data=value.encode(), method="PUT")
        elif op == "delete":
            request = urllib.request.Request(node.http + path, method="DELETE")
        else:
            request = urllib.request.Request(node.http + path + f"?consistency={self.consistency}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=node.tls) as response:
                body = response.read()
                return "ok", body[:-1].decode() if op == "get" else None
        except urllib.error.HTTPError as error:
            if op == "get" and error.code == 404:
                return "ok", None
            return ("fail" if op == "get" or error.code in DEFINITE_HTTP else "unknown"), None
        except OSError:
            return ("fail" if op == "get" else "unknown"), None

    def call_binary(self, node, op, key, value):
        try:
            with rc.Client(node.addr, timeout=self.timeout, tls=node.tls) as client:
                if op == "set":
                    client.set(key.encode(), value.encode())
                elif op == "delete":
                    client.delete(key.encode())
                else:
                    found = client.get(key.encode(), consistency=self.consistency)
                    return "ok", found.decode() if found is not None else None
                return "ok", None
        except rc.RPCError as error:
            if op == "get":
                return "fail", None
            return ("fail" if rc.STATUS_NAMES.get(error.status) in DEFINITE_RPC else "unknown"), None
        except OSError:
            return ("fail" if op == "get" else "unknown"), None
