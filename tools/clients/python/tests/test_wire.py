"""The Python side of the wire: the hex vectors decode to their JSON values and encode
to the same bytes, byte for byte, as the Swift codecs produce (Tests/RaftWireTests)."""

import os
import sys

import pytest
from google.protobuf import json_format

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import raftcache_wire as wire  # noqa: E402
import vectors  # noqa: E402

NAMES = vectors.names()
REQUEST_NAMES = [name for name in NAMES
                 if vectors.envelope_of(vectors.load(name)).kind == wire.REQUEST]


def test_there_are_vectors_for_every_hex_file():
    hex_names = sorted(f[:-4] for f in os.listdir(vectors.VECTORS_DIR) if f.endswith(".hex"))
    assert hex_names == NAMES
    assert len(NAMES) >= 6


@pytest.mark.parametrize("name", NAMES)
def test_encoding_the_values_gives_the_frame(name):
    assert vectors.frame_of(vectors.load(name)) == vectors.read_hex(name)


@pytest.mark.parametrize("name", NAMES)
def test_decoding_the_frame_gives_the_values(name):
    vector = vectors.load(name)
    decoder = wire.FrameDecoder()
    decoder.feed(vectors.read_hex(name))
    (envelope,) = list(decoder.frames())
    payload = envelope.payload
    envelope.ClearField("payload")
    assert envelope == json_format.ParseDict(vector["envelope"], wire.Envelope())
    if vector["message_type"] is None:
        assert payload == b""
    else:
        message = wire.message_class(vector["message_type"])()
        message.ParseFromString(payload)
        assert message == vectors.message_of(vector)


@pytest.mark.parametrize("name", REQUEST_NAMES)
def test_request_payloads_decode_as_the_methods_request_type(name):
    vector = vectors.load(name)
    request_type, _ = wire.METHODS[vectors.envelope_of(vector).method]
    assert request_type.DESCRIPTOR.full_name == vector["message_type"]


def test_the_hex_files_are_what_gen_vectors_writes():
    for name in NAMES:
        vector = vectors.load(name)
        with open(os.path.join(vectors.VECTORS_DIR, name + ".hex")) as f:
            assert f.read() == vectors.hex_text(name, vector, vectors.frame_of(vector))


def test_a_stream_split_anywhere_gives_every_frame():
    stream = b"".join(vectors.read_hex(name) for name in NAMES)
    expected = [vectors.envelope_of(vectors.load(name)) for name in NAMES]
    for step in (1, 3, 7, 64, len(stream)):
        decoder = wire.FrameDecoder()
        got = []
        for i in range(0, len(stream), step):
            decoder.feed(stream[i:i + step])
            got.extend(decoder.frames())
        assert got == expected


def test_an_oversized_length_is_refused_from_the_header():
    decoder = wire.FrameDecoder(max_length=1024)
    decoder.feed(b"\x00\x00\x04\x01")
    with pytest.raises(wire.FrameTooLarge):
        list(decoder.frames())
    with pytest.raises(wire.FrameTooLarge):
        wire.encode_frame(wire.Envelope(payload=b"x" * 2000), max_length=1024)


def test_methods_come_from_the_services():
    assert wire.METHODS["/raftcache.KV/Set"] == (wire.kv_pb2.SetRequest, wire.kv_pb2.SetResponse)
    assert wire.METHODS["/raftcache.Raft/AddVoter"][1] is wire.raft_pb2.MembershipResponse
    assert wire.METHODS["/raftcache.KV/Incr"] == (wire.kv_pb2.IncrRequest, wire.kv_pb2.IncrResponse)
    assert wire.METHODS["/raftcache.KV/Txn"] == (wire.kv_pb2.TxnRequest, wire.kv_pb2.TxnResponse)
    assert len(wire.METHODS) == 20
    assert wire.METHODS["/raftcache.KV/Backup"] == (wire.kv_pb2.BackupRequest, wire.kv_pb2.BackupChunk)
