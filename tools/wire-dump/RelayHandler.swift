import NIOCore

/// Passes every byte read on its channel to `peer` unchanged, after showing it to `tap`;
/// stops reading while the peer cannot keep up, and closes the peer when its side closes.
final class RelayHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let peer: any Channel
    private let tap: @Sendable (ByteBuffer) -> Void
    private let closed: @Sendable () -> Void

    init(peer: any Channel, tap: @escaping @Sendable (ByteBuffer) -> Void, closed: @escaping @Sendable () -> Void) {
        self.peer = peer
        self.tap = tap
        self.closed = closed
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        tap(bytes)
        peer.writeAndFlush(bytes, promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // Backpressure: read from the peer only while this side can take its bytes.
        peer.setOption(ChannelOptions.autoRead, value: context.channel.isWritable).whenFailure { _ in }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed()
        peer.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
