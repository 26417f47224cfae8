"""The client's reading of a node address: "host:port" or "[v6 address]:port", as the nodes
read --raft-addr and --leader-addr."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from raftcache_client import split_host_port  # noqa: E402


@pytest.mark.parametrize("address, expected", [
    ("127.0.0.1:8081", ("127.0.0.1", 8081)),
    ("node-1.example:7000", ("node-1.example", 7000)),
    ("[::1]:8081", ("::1", 8081)),
    ("::1:8081", ("::1", 8081)),  # The last colon ends the host, as the nodes read it.
    (":8081", ("localhost", 8081)),
    ("[]:8081", ("localhost", 8081)),
])
def test_host_and_port(address, expected):
    assert split_host_port(address) == expected


@pytest.mark.parametrize("address", ["8081", "host:", "host:http", "host:65536", "[::1:8081", "::1]:8081", "[::1]"])
def test_not_host_and_port(address):
    with pytest.raises(ValueError):
        split_host_port(address)
