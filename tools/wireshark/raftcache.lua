-- Wireshark dissector for the raft-cache binary protocol (Protos/README.md): 4-byte big-endian
-- length-prefixed frames, each one raftcache.Envelope. It shows the envelope's fields and the
-- payload's bytes; `wire-dump --pcap` decodes the payload messages themselves.
--
-- Load it for one run:
--   wireshark -X lua_script:tools/wireshark/raftcache.lua capture.pcap
--   tshark    -X lua_script:tools/wireshark/raftcache.lua -r capture.pcap
-- or for good, copy it to the personal Lua plugins folder (Help > About Wireshark > Folders),
-- e.g. ~/.local/lib/wireshark/plugins/. It claims TCP ports 8081-8083 (the README's cluster);
-- change them in Preferences > Protocols > RAFTCACHE, or use Decode As... > RAFTCACHE.

local proto = Proto("raftcache", "raft-cache binary protocol")

local kinds = { [0] = "REQUEST", [1] = "RESPONSE" }
local statuses = {
    [0] = "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
    "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
}

local f = {
    length = ProtoField.uint32("raftcache.length", "Envelope length", base.DEC),
    call_id = ProtoField.uint64("raftcache.call_id", "Call id", base.DEC),
    kind = ProtoField.uint32("raftcache.kind", "Kind", base.DEC, kinds),
    method = ProtoField.string("raftcache.method", "Method"),
    timeout_ms = ProtoField.uint32("raftcache.timeout_ms", "Timeout (ms)", base.DEC),
    status = ProtoField.uint32("raftcache.status", "Status", base.DEC, statuses),
    message = ProtoField.string("raftcache.message", "Message"),
    payload = ProtoField.bytes("raftcache.payload", "Payload"),
    hops = ProtoField.uint32("raftcache.hops", "Hops", base.DEC),
    unknown = ProtoField.bytes("raftcache.unknown", "Unknown field"),
}
proto.fields = { f.length, f.call_id, f.kind, f.method, f.timeout_ms, f.status, f.message, f.payload, f.hops, f.unknown }

local max_frame = 16 * 1024 * 1024
proto.prefs.ports = Pref.range("TCP ports", "8081-8083", "Ports carrying raft-cache frames", 65535)

-- A protobuf varint at `offset`: its value (a Lua number, exact up to 2^53) and its length,
-- or nil when it runs past `limit`. No bit operations, so any Lua version Wireshark ships works.
local function varint(tvb, offset, limit)
    local value, scale = 0, 1
    for i = 0, 9 do
        if offset + i >= limit then return nil end
        local byte = tvb(offset + i, 1):uint()
        value = value + (byte % 128) * scale
        if byte < 128 then return value, i + 1 end
        scale = scale * 128
    end
    return nil
end

local uint64_fields = { [1] = f.call_id }
local uint32_fields = { [2] = f.kind, [4] = f.timeout_ms, [5] = f.status, [8] = f.hops }
local string_fields = { [3] = f.method, [6] = f.message }

-- Adds the Envelope's fields to `tree`; returns kind, call id, method and status for the Info column.
local function dissect_envelope(tvb, offset, limit, tree)
    local info = { kind = 0, call_id = 0, method = "", status = 0 }
    while offset < limit do
        local tag, tag_length = varint(tvb, offset, limit)
        if not tag then
            tree:add_expert_info(PI_MALFORMED, PI_ERROR, "truncated field tag")
            return info
        end
        local number, wire_type = math.floor(tag / 8), tag % 8
        local start = offset
        offset = offset + tag_length
        if wire_type == 0 then
            local value, length = varint(tvb, offset, limit)
            if not value then
                tree:add_expert_info(PI_MALFORMED, PI_ERROR, "truncated varint")
                return info
            end
            local range = tvb(start, offset + length - start)
            if uint64_fields[number] then
                tree:add(uint64_fields[number], range, UInt64(value % 4294967296, math.floor(value / 4294967296)))
                info.call_id = value
            elseif uint32_fields[number] then
                tree:add(uint32_fields[number], range, value)
                if number == 2 then info.kind = value end
                if number == 5 then info.status = value end
            else
                tree:add(f.unknown, range)
            end
            offset = offset + length
        elseif wire_type == 2 then
            local length, length_length = varint(tvb, offset, limit)
            if not length or offset + length_length + length > limit then
                tree:add_expert_info(PI_MALFORMED, PI_ERROR, "field length past the end of the envelope")
                return info
            end
            local body = offset + length_length
            local range = tvb(start, body + length - start)
            if string_fields[number] then
                local text = length > 0 and tvb(body, length):string() or ""
                tree:add(string_fields[number], range, text)
                if number == 3 then info.method = text end
            elseif number == 7 then
                tree:add(f.payload, range, length > 0 and tvb(body, length):bytes() or ByteArray.new())
            else
                tree:add(f.unknown, range)
            end
            offset = body + length
        elseif wire_type == 5 and offset + 4 <= limit then
            tree:add(f.unknown, tvb(start, offset + 4 - start))
            offset = offset + 4
        elseif wire_type == 1 and offset + 8 <= limit then
            tree:add(f.unknown, tvb(start, offset + 8 - start))
            offset = offset + 8
        else
            tree:add_expert_info(PI_MALFORMED, PI_ERROR, "bad wire type " .. wire_type)
            return info
        end
    end
    return info
end

local function frame_length(tvb, pinfo, offset)
    return tvb(offset, 4):uint() + 4
end

local function dissect_frame(tvb, pinfo, tree)
    local length = tvb(0, 4):uint()
    local subtree = tree:add(proto, tvb(0, length + 4))
    subtree:add(f.length, tvb(0, 4))
    local info = dissect_envelope(tvb, 4, length + 4, subtree)
    local what
    if info.kind == 1 then
        what = string.format("response #%d %s", info.call_id, statuses[info.status] or ("CODE_" .. info.status))
    else
        what = string.format("request #%d %s", info.call_id, info.method)
    end
    subtree:append_text(", " .. what)
    pinfo.cols.protocol = "RAFTCACHE"
    pinfo.cols.info:append(" " .. what)
    return length + 4
end

function proto.dissector(tvb, pinfo, tree)
    if tvb:len() >= 4 and tvb(0, 4):uint() > max_frame then
        -- Not frames (or the capture started mid-stream): leave the bytes to TCP.
        return 0
    end
    pinfo.cols.info:clear()
    dissect_tcp_pdus(tvb, tree, 4, frame_length, dissect_frame)
    return tvb:len()
end

local registered = nil
local function register_ports()
    local tcp = DissectorTable.get("tcp.port")
    if registered then tcp:remove(registered, proto) end
    registered = proto.prefs.ports
    tcp:add(registered, proto)
end

function proto.prefs_changed()
    register_ports()
end

register_ports()
