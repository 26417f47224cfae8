"""Framing of the raft-cache binary protocol, for Python clients (see Protos/README.md).

A frame is a 4-byte big-endian length followed by that many bytes of one encoded
raftcache.Envelope. The message classes come from protoc's output for Protos/*.proto
(wire_pb2, raft_pb2, kv_pb2 beside this file; regenerate them with tools/gen-protos).
"""

import os
import struct
import sys

# protoc's Python output imports its siblings as top-level modules.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kv_pb2  # noqa: E402
import raft_pb2  # noqa: E402
import wire_pb2  # noqa: E402

HEADER = struct.Struct(">I")
DEFAULT_MAX_LENGTH = 16 * 1024 * 1024

Envelope = wire_pb2.Envelope
ErrorDetail = wire_pb2.ErrorDetail
REQUEST = wire_pb2.FRAME_KIND_REQUEST
RESPONSE = wire_pb2.FRAME_KIND_RESPONSE


class FrameTooLarge(Exception):
    """A frame's length is over the limit; the stream cannot be read further."""

    def __init__(self, length, limit):
        super().__init__(f"frame of {length} bytes is over the limit of {limit} bytes")
        self.length = length
        self.limit = limit


# "raftcache.SetRequest" -> the generated class, for every message of the three files.
_MESSAGE_CLASSES = {
    descriptor.full_name: getattr(module, name)
    for module in (wire_pb2, raft_pb2, kv_pb2)
    for name, descriptor in module.DESCRIPTOR.message_types_by_name.items()
}


def message_class(full_name):
    """The generated class of a message named like 'raftcache.SetRequest'."""
    try:
        return _MESSAGE_CLASSES[full_name]
    except KeyError:
        raise KeyError(f"no message {full_name}") from None


def _methods():
    methods = {}
    for module in (raft_pb2, kv_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                path = f"/{service.full_name}/{method.name}"
                methods[path] = (message_class(method.input_type.full_name),
                                 message_class(method.output_type.full_name))
    return methods


# "/raftcache.KV/Set" -> (SetRequest, SetResponse), from the service definitions.
METHODS = _methods()


def encode_frame(envelope, max_length=DEFAULT_MAX_LENGTH):
    """The frame bytes (length prefix and envelope) of an Envelope."""
    body = envelope.SerializeToString()
    if len(body) > max_length:
        raise FrameTooLarge(len(body), max_length)
    return HEADER.pack(len(body)) + body


def request_frame(call_id, method, request, timeout_ms=0, auth_token="", session=None):
    """A request frame calling `method` with message `request` (and a bearer token, if any;
    `session`: (session id, sequence, acked below) of a client session's write)."""
    session_id, sequence, acked_below = session or (0, 0, 0)
    return encode_frame(Envelope(call_id=call_id, kind=REQUEST, method=method, timeout_ms=timeout_ms,
                                 payload=request.SerializeToString(), auth_token=auth_token, session_id=session_id,
                                 sequence=sequence, acked_below=acked_below))


class FrameDecoder:
    """Cuts a byte stream into Envelopes, however the bytes arrive.

    A length over the limit raises FrameTooLarge as soon as its header is seen.
    """

    def __init__(self, max_length=DEFAULT_MAX_LENGTH):
        self.max_length = max_length
        self._buffer = bytearray()

    def feed(self, data):
        self._buffer += data

    def frames(self):
        """Yields every whole Envelope received so far."""
        while len(self._buffer) >= HEADER.size:
            (length,) = HEADER.unpack_from(self._buffer)
            if length > self.max_length:
                raise FrameTooLarge(length, self.max_length)
            if len(self._buffer) < HEADER.size + length:
                return
            body = bytes(self._buffer[HEADER.size:HEADER.size + length])
            del self._buffer[:HEADER.size + length]
            envelope = Envelope()
            envelope.ParseFromString(body)
            yield envelope
