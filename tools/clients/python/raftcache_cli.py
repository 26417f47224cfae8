#!/usr/bin/env python3
"""raft-cache from the command line, over the binary protocol.

    raftcache_cli.py --addr HOST:PORT set KEY VALUE [--if-mod-index N | --if-absent]
    raftcache_cli.py --addr HOST:PORT get KEY [--consistency linearizable|lease|stale] [--version]
    raftcache_cli.py --addr HOST:PORT delete KEY [--if-mod-index N]
    raftcache_cli.py --addr HOST:PORT incr KEY [--by N]
    raftcache_cli.py --addr HOST:PORT status
    raftcache_cli.py --addr HOST:PORT --tls-ca-file ca.pem --tls-cert-file me.pem --tls-key-file me-key.pem get KEY
    RAFT_CACHE_TOKEN=... raftcache_cli.py --addr HOST:PORT set KEY VALUE

Exit status: 0 done, 1 key not found (get), 2 the call failed (a condition that fails too).
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from google.protobuf import json_format  # noqa: E402

import raftcache_client as rc  # noqa: E402


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
    p = commands.add_parser("get", help="print the value of KEY")
    p.add_argument("key")
    p.add_argument("--consistency", choices=sorted(rc.CONSISTENCY), default="linearizable")
    p.add_argument("--version", action="store_true", help="also print the key's create and mod index, on stderr")
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
                print(client.set(args.key.encode(), args.value.encode(), args.if_mod_index, args.if_absent))
            elif args.command == "get":
                response = client.get_versioned(args.key.encode(), args.consistency)
                if response is None:
                    print(f"{args.key}: not found", file=sys.stderr)
                    return 1
                sys.stdout.buffer.write(response.value + b"\n")
                if args.version:
                    print(f"create_index={response.create_index} mod_index={response.mod_index}", file=sys.stderr)
            elif args.command == "incr":
                print(client.incr(args.key.encode(), args.by)[0])
            elif args.command == "delete":
                print(client.delete(args.key.encode(), args.if_mod_index))
            else:
                print(json.dumps(json_format.MessageToDict(client.status(), preserving_proto_field_name=True), indent=2))
    except (rc.RPCError, OSError) as error:
        print(f"raftcache_cli: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
