"""The hex test vectors of Tests/Vectors: each NAME.json describes a frame, NAME.hex holds its bytes.

NAME.json: {"description", "envelope": Envelope in proto3 JSON without payload,
            "message_type": full name of the payload's message (or null), "message": it in proto3 JSON}
NAME.hex:  '#' comment lines, then the frame's bytes as hex digits (white space ignored).
"""

import json
import os

from google.protobuf import json_format

import raftcache_wire as wire

VECTORS_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                            "..", "..", "..", "Tests", "Vectors"))


def names():
    return sorted(f[:-5] for f in os.listdir(VECTORS_DIR) if f.endswith(".json"))


def load(name):
    with open(os.path.join(VECTORS_DIR, name + ".json")) as f:
        return json.load(f)


def read_hex(name):
    with open(os.path.join(VECTORS_DIR, name + ".hex")) as f:
        digits = "".join(line.split("#", 1)[0] for line in f)
    return bytes.fromhex("".join(digits.split()))


def message_of(vector):
    """The payload message a vector describes, or None."""
    if vector["message_type"] is None:
        return None
    return json_format.ParseDict(vector["message"], wire.message_class(vector["message_type"])())


def envelope_of(vector):
    envelope = json_format.ParseDict(vector["envelope"], wire.Envelope())
    message = message_of(vector)
    if message is not None:
        envelope.payload = message.SerializeToString()
    return envelope


def frame_of(vector):
    return wire.encode_frame(envelope_of(vector))


def hex_text(name, vector, frame):
    """The NAME.hex file for a frame: comments, the length line, the envelope 16 bytes a line."""
    envelope = envelope_of(vector)
    kind = {wire.REQUEST: "request", wire.RESPONSE: "response"}.get(envelope.kind, "cancel")
    if envelope.more:
        kind += " (more follow)"
    lines = [f"# {name}: {vector['description']}",
             f"# {kind}, call id {envelope.call_id}"
             + (f", method {envelope.method}" if envelope.method else "")
             + (f", payload {vector['message_type']}" if vector["message_type"] else ", no payload"),
             f"# 4-byte big-endian length {len(frame) - 4}, then the Envelope:",
             frame[:4].hex(" ")]
    body = frame[4:]
    lines += [body[i:i + 16].hex(" ") for i in range(0, len(body), 16)]
    return "\n".join(lines) + "\n"
