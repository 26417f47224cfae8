#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL

/// The files a node's TLS is made of: its certificate (with any intermediates), its key, and
/// the cluster CA that signs every peer's and client's certificate.
public struct TLSFiles: Sendable, Equatable {
    public var certificate: String
    public var key: String
    public var ca: String
    /// NSS key log for Wireshark: every session's secrets are appended here (debugging only).
    public var keyLog: String?

    public init(certificate: String, key: String, ca: String, keyLog: String? = nil) {
        self.certificate = certificate
        self.key = key
        self.ca = ca
        self.keyLog = keyLog
    }
}

/// The TLS contexts in force: one for the listeners (a client certificate is asked for and,
/// when given, must chain to the CA; clients may use a token instead), one for calls to
/// peers (mutual: this node's certificate is presented). `reload()` reads the files again
/// (a rotated certificate); connections made afterwards use the new contexts.
public final class TLSContexts: Sendable {
    public let files: TLSFiles
    private let contexts: NIOLockedValueBox<(server: NIOSSLContext, client: NIOSSLContext)>

    public init(files: TLSFiles) throws {
        self.files = files
        contexts = NIOLockedValueBox(try Self.make(files))
    }

    public var server: NIOSSLContext { contexts.withLockedValue { $0.server } }
    public var client: NIOSSLContext { contexts.withLockedValue { $0.client } }

    /// Reads the files again and puts them in force once `check` accepts the identity the
    /// new certificate names; on any failure the contexts in force stay.
    public func reload(check: (Caller?) throws -> Void) throws {
        let fresh = try Self.make(files)
        try check(try ownIdentity())
        contexts.withLockedValue { $0 = fresh }
    }

    /// This node's own identity, from its certificate file.
    public func ownIdentity() throws -> Caller? {
        try NIOSSLCertificate.fromPEMFile(files.certificate).first.flatMap(Caller.init(certificate:))
    }

    private static func make(_ files: TLSFiles) throws -> (server: NIOSSLContext, client: NIOSSLContext) {
        let chain = try NIOSSLCertificate.fromPEMFile(files.certificate)
        let key = try NIOSSLPrivateKey(file: files.key, format: .pem)
        let ca = try NIOSSLCertificate.fromPEMFile(files.ca)
        guard !chain.isEmpty else { throw TLSSetupError("\(files.certificate) holds no certificate") }
        guard !ca.isEmpty else { throw TLSSetupError("\(files.ca) holds no certificate") }
        let keyLog: NIOSSLKeyLogCallback? = files.keyLog.map(KeyLogFile.init(path:)).map { file in { file.append($0) } }

        var server = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        server.trustRoots = .certificates(ca)
        server.certificateVerification = .optionalVerification
        server.minimumTLSVersion = .tlsv12
        server.keyLogCallback = keyLog

        var client = TLSConfiguration.makeClientConfiguration()
        client.certificateChain = chain.map { .certificate($0) }
        client.privateKey = .privateKey(key)
        client.trustRoots = .certificates(ca)
        // Peers are called by address; who answered is read from its certificate instead.
        client.certificateVerification = .noHostnameVerification
        client.minimumTLSVersion = .tlsv12
        client.keyLogCallback = keyLog
        return (try NIOSSLContext(configuration: server), try NIOSSLContext(configuration: client))
    }
}

public struct TLSSetupError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Appends NSS key log lines to a file, for Wireshark to decrypt a capture.
private final class KeyLogFile: Sendable {
    private let lock = NIOLock()
    let path: String

    init(path: String) {
        self.path = path
    }

    /// `line` ends with its newline already.
    func append(_ line: ByteBuffer) {
        lock.withLock {
            guard let file = fopen(path, "a") else { return }
            defer { fclose(file) }
            _ = line.readableBytesView.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        }
    }
}

/// Joins the bytes written between two flushes into one buffer, so TLS seals them as one
/// record: an HTTP answer is written as head, body and end, three records without it.
final class WriteCoalescer: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var pending: ByteBuffer?
    private var promises: [EventLoopPromise<Void>] = []

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var bytes = unwrapOutboundIn(data)
        if pending == nil {
            pending = bytes
        } else {
            pending!.writeBuffer(&bytes)
        }
        if let promise { promises.append(promise) }
    }

    func flush(context: ChannelHandlerContext) {
        guard let bytes = pending else { return context.flush() }
        pending = nil
        let waiting = promises
        promises = []
        let written: EventLoopPromise<Void>? = waiting.isEmpty ? nil : context.eventLoop.makePromise()
        written?.futureResult.whenComplete { result in waiting.forEach { $0.completeWith(result) } }
        context.writeAndFlush(wrapOutboundOut(bytes), promise: written)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if pending != nil { flush(context: context) }
        context.close(mode: mode, promise: promise)
    }
}
