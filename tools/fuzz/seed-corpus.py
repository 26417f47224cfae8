#!/usr/bin/env python3
"""Writes fuzzing seeds from Tests/Vectors into the given folder: each vector's whole frame,
its envelope bytes and its payload."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))
import vectors  # noqa: E402

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name in vectors.names():
    frame = vectors.read_hex(name)
    seeds = {"frame": frame, "envelope": frame[4:], "payload": vectors.envelope_of(vectors.load(name)).payload}
    for kind, data in seeds.items():
        with open(os.path.join(out, f"seed-{name}-{kind}"), "wb") as f:
            f.write(data)
