#!/usr/bin/env python3
"""raft-cache from the command line, over the binary protocol.

    raftcache_cli.py --addr HOST:PORT set KEY VALUE [--if-mod-index N | --if-absent] [--ttl-ms MS]
    raftcache_cli.py --addr HOST:PORT get KEY [--consistency linearizable|lease|stale] [--version]
    raftcache_cli.py --addr HOST:PORT ttl KEY MS                 (0: the key no longer expires)
    raftcache_cli.py --addr HOST:PORT txn '{"compare": [...], "success": [...], "failure": [...]}'
    raftcache_cli.py --addr HOST:PORT batch '{"ops": [...], "consistency": "lease"}'
    raftcache_cli.py --addr HOST:PORT watch [--key K | --prefix P] [--since N] [--keys-only]
                                              (a JSON line per log entry, until interrupted)

    raftcache_cli.py --addr HOST:PORT delete KEY [--if-mod-index N]
    raftcache_cli.py --addr HOST:PORT incr KEY [--by N]
    raftcache_cli.py --addr HOST:PORT status
    raftcache_cli.py --addr HOST:PORT --tls-ca-file ca.pem --tls-cert-file me.pem --tls-key-file me-key.pem get KEY
    RAFT_CACHE_TOKEN=... raftcache_cli.py --addr HOST:PORT set KEY VALUE

Exit status: 0 done, 1 key not found (get), 2 the call failed (a condition that fails too).
"""

import argparse
import json
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from google.protobuf import json_format  # noqa: E402

import raftcache_client as rc  # noqa: E402


def as_json(message):
    return json.dumps(json_format.MessageToDict(message, preserving_proto_field_name=True), indent=2)


def watch_json(response):
    """A WatchResponse as the HTTP API's NDJSON line: {"index", "events": [{"kind", "key", ...}]}."""
    kinds = {0: "set", 1: "delete", 2: "expire", 3: "evict"}
    events = []
    for event in response.events:
        item = {"kind": kinds.get(event.kind, str(event.kind)), "key": event.key.decode(errors="replace"),
                "mod_index": event.mod_index}
        if event.kind == 0 and event.value:
            item["value"] = event.value.decode(errors="replace")
        events.append(item)
    return {"index": response.index, "events": events}


def compare_from(c):
    """A compare from the HTTP API's JSON shape."""
    return rc.compare(c["key"].encode(), c["target"], c.get("result", "="), c.get("value", "").encode(),
                      c.get("mod_index", 0))


DURATION_UNITS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "ms": 1, "s": 1e3, "m": 60e3, "h": 3600e3}


def ttl_ms(text):
    """A TTL as the HTTP API takes it: milliseconds ("1500") or a Go duration ("30s", "1m30s")."""
    if text.isdigit():
        return int(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"ttl must be a duration like 30s or 1m30s, or milliseconds, not {text!r}")
    return math.ceil(sum(float(n) * DURATION_UNITS[u] for n, u in parts))


def op_from(o):
    """An operation from the HTTP API's JSON shape."""
    return rc.op(o["op"], o["key"].encode(), o.get("value", "").encode(), ttl_ms(o.get("ttl", "0")))


def main(argv=None):
    parser = argparse.ArgumentParser(description="raft-cache client (binary protocol)")
    parser.add_argument("--addr", default="localhost:8081", help="a node's --raft-addr (default localhost:8081)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait (default 5)")
    parser.add_argument("--tls-ca-file", help="the cluster CA: speak TLS, and trust nodes whose certificate it signed")
    parser.add_argument("--tls-cert-file", help="a client certificate (its CN and OU name the caller and its role)")
    parser.add_argument("--tls-key-file", help="the key of --tls-cert-file")
    parser.add_argument("--token-file", help="a file holding a bearer token (default: the RAFT_CACHE_TOKEN variable)")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("set", help="set KEY to VALUE")
    p.add_argument("key")
    p.add_argument("value")
    p.add_argument("--if-mod-index", type=int, default=0, help="only if KEY was last set by this entry (compare-and-set)")
    p.add_argument("--if-absent", action="store_true", help="only if KEY does not exist")
    p.add_argument("--ttl-ms", type=int, default=0, help="expire KEY this many milliseconds after the write")
    p = commands.add_parser("ttl", help="change KEY's time to live (milliseconds; 0: no expiry)")
    p.add_argument("key")
    p.add_argument("ttl_ms", type=int)
    p = commands.add_parser("txn", help="a transaction, as the JSON of POST /api/v1/txn (README); prints the answer as JSON")
    p.add_argument("json")
    p = commands.add_parser("batch", help="several keys, as the JSON of POST /api/v1/batch (README); prints the answer as JSON")
    p.add_argument("json")
    p = commands.add_parser("watch", help="print the changes of a key, of keys under a prefix, or of every key, as JSON lines")
    p.add_argument("--key", default="", help="this key only")
    p.add_argument("--prefix", default="", help="every key starting with this")
    p.add_argument("--since", type=int, default=0, help="resume: the changes after this log index first")
    p.add_argument("--keys-only", action="store_true", help="leave values out")
    p = commands.add_parser("get", help="print the value of KEY")
    p.add_argument("key")
    p.add_argument("--consistency", choices=sorted(rc.CONSISTENCY), default="linearizable")
    p.add_argument("--version", action="store_true",
                   help="also print the key's create and mod index, and its time to live, on stderr")
    p = commands.add_parser("incr", help="add BY (default 1) to KEY's decimal value; print the new value")
    p.add_argument("key")
    p.add_argument("--by", type=int, default=1)
    p = commands.add_parser("delete", help="delete KEY")
    p.add_argument("key")
    p.add_argument("--if-mod-index", type=int, default=0, help="only if KEY was last set by this entry")
    commands.add_parser("status", help="the node's view of the cluster, as JSON")
    args = parser.parse_args(argv)
    if bool(args.tls_cert_file) != bool(args.tls_key_file) or (args.tls_cert_file and not args.tls_ca_file):
        parser.error("--tls-cert-file and --tls-key-file go together, with --tls-ca-file")
    token = os.environ.get("RAFT_CACHE_TOKEN", "")
    if args.token_file:
        with open(args.token_file) as f:
            token = f.read().strip()

    try:
        tls = rc.tls_context(args.tls_ca_file, args.tls_cert_file, args.tls_key_file) if args.tls_ca_file else None
        with rc.Client(args.addr, timeout=args.timeout, tls=tls, token=token) as client:
            if args.command == "set":
                print(client.set(args.key.encode(), args.value.encode(), args.if_mod_index, args.if_absent, args.ttl_ms))
            elif args.command == "ttl":
                print(client.set_ttl(args.key.encode(), args.ttl_ms))
            elif args.command == "txn":
                request = json.loads(args.json)
                print(as_json(client.txn([compare_from(c) for c in request.get("compare", [])],
                                         [op_from(o) for o in request.get("success", [])],
                                         [op_from(o) for o in request.get("failure", [])])))
            elif args.command == "watch":
                for response in client.watch(args.key.encode(), args.prefix.encode(), args.since, args.keys_only):
                    print(json.dumps(watch_json(response)), flush=True)
            elif args.command == "batch":
                request = json.loads(args.json)
                print(as_json(client.batch([op_from(o) for o in request["ops"]], request.get("consistency", "linearizable"))))
            elif args.command == "get":
                response = client.get_versioned(args.key.encode(), args.consistency)
                if response is None:
                    print(f"{args.key}: not found", file=sys.stderr)
                    return 1
                sys.stdout.buffer.write(response.value + b"\n")
                if args.version:
                    print(f"create_index={response.create_index} mod_index={response.mod_index} ttl_ms={response.ttl_ms}",
                          file=sys.stderr)
            elif args.command == "incr":
                print(client.incr(args.key.encode(), args.by)[0])
            elif args.command == "delete":
                print(client.delete(args.key.encode(), args.if_mod_index))
            else:
                print(as_json(client.status()))
    except KeyboardInterrupt:
        return 0
    except (rc.RPCError, OSError, ValueError, KeyError) as error:
        print(f"raftcache_cli: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
