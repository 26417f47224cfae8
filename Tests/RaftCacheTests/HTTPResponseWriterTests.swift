import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import HTTPFrontend

/// The answers HTTPResponseWriter puts on the wire, byte for byte, framed as NIO's encoder
/// frames them; and a whole answer in one buffer.
@Suite struct HTTPResponseWriterTests {
    /// A channel with the writer; `requests` are read through it first (their methods decide
    /// which answers carry a body).
    private func channel(requests: [HTTPMethod] = [.GET]) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(handler: HTTPResponseWriter())
        for method in requests {
            try channel.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: method, uri: "/")))
            try channel.writeInbound(HTTPServerRequestPart.end(nil))
        }
        return channel
    }

    /// Each buffer written since the last call, as text; empty ones (an end that only keeps
    /// its promise in line) left out.
    private func written(_ channel: EmbeddedChannel) throws -> [String] {
        var buffers: [String] = []
        while let data = try channel.readOutbound(as: IOData.self) {
            guard case .byteBuffer(let buffer) = data else { continue }
            if buffer.readableBytes > 0 { buffers.append(String(buffer: buffer)) }
        }
        return buffers
    }

    private func head(_ status: HTTPResponseStatus, _ headers: HTTPHeaders, version: HTTPVersion = .http1_1) -> HTTPServerResponsePart {
        .head(HTTPResponseHead(version: version, status: status, headers: headers))
    }

    @Test("an answer with a length: head, body and end in one buffer")
    func oneBuffer() throws {
        let channel = try channel()
        channel.write(head(.ok, ["Content-Type": "application/json", "Content-Length": "11"]), promise: nil)
        channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: "{\"index\":7}"))), promise: nil)
        let ended = channel.writeAndFlush(HTTPServerResponsePart.end(nil))
        #expect(try written(channel) == ["HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"index\":7}"])
        try ended.wait()
    }

    @Test("HEAD: the framing headers a GET would get, no body; the next answer has its body")
    func head() throws {
        let channel = try channel(requests: [.HEAD, .GET])
        channel.write(head(.notFound, ["Content-Length": "2"]), promise: nil)
        let dropped = channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: "{}"))))
        channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
        channel.write(head(.ok, ["Content-Length": "2"]), promise: nil)
        channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: "ok"))), promise: nil)
        channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
        #expect(try written(channel) == [
            "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        ])
        try dropped.wait()
    }

    @Test("no length on HTTP/1.1: chunked, each part written when flushed, a large one as it is")
    func chunked() throws {
        let channel = try channel()
        channel.writeAndFlush(head(.ok, ["Content-Type": "application/x-ndjson"]), promise: nil)
        #expect(try written(channel) == ["HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"])
        let part = channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: "{\"a\":1}\n"))))
        #expect(try written(channel) == ["8\r\n{\"a\":1}\n\r\n"])
        try part.wait()
        let large = String(repeating: "x", count: HTTPResponseWriter.coalescedBodyLimit + 1)
        channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: large))), promise: nil)
        channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
        let got = try written(channel)
        #expect(got == [String(large.utf8.count, radix: 16) + "\r\n", large, "\r\n", "0\r\n\r\n"], "\(got.map { $0.prefix(40) })")
    }

    @Test("no body after 204; 100 Continue goes out first; HTTP/1.0 without a length is not chunked")
    func framing() throws {
        let channel = try channel(requests: [.DELETE, .PUT, .GET])
        channel.writeAndFlush(head(.noContent, ["Content-Length": "0", "Transfer-Encoding": "chunked", "X": "y"]), promise: nil)
        channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
        channel.writeAndFlush(head(.continue, [:]), promise: nil)
        channel.write(head(.created, ["content-length": "0", "transfer-encoding": "gzip"]), promise: nil)
        channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
        channel.write(head(.ok, [:], version: .http1_0), promise: nil)
        channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: "raw"))), promise: nil)
        channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
        let got = try written(channel)
        #expect(got == [
            "HTTP/1.1 204 No Content\r\nX: y\r\n\r\n",
            "HTTP/1.1 100 Continue\r\n\r\n",
            "HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n",
            "HTTP/1.0 200 OK\r\n\r\nraw",
        ], "\(got)")
    }

    @Test("a head never flushed fails its promise when the connection goes")
    func unflushed() throws {
        let channel = try channel()
        let head = channel.write(head(.ok, ["Content-Length": "2"]))
        _ = try? channel.close().wait()
        #expect(throws: ChannelError.self) { try head.wait() }
    }

    @Test("a connection refused before its pipeline gets a whole answer that closes it")
    func refusalBytes() {
        let answer = HTTPAnswer.json(.forbidden, ByteBuffer(string: "{}"))
        #expect(String(buffer: HTTPResponseWriter.bytes(of: answer, keepAlive: false))
            == "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
    }

    @Test("header names match whatever their case")
    func names() {
        #expect(HTTPResponseWriter.isName("Content-Length", "content-length"))
        #expect(HTTPResponseWriter.isName("TRANSFER-ENCODING", "transfer-encoding"))
        #expect(!HTTPResponseWriter.isName("Content-Lengtx", "content-length"))
        #expect(!HTTPResponseWriter.isName("Content_Length", "content-length"))
    }
}
