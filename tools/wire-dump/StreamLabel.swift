/// Which connection and which direction bytes travel in, as printed on each frame.
struct StreamLabel: Hashable, Sendable {
    /// Numbered in the order connections are first seen, from 1.
    let connection: Int
    let source: String
    let destination: String

    /// Both endpoints, for `--node`.
    var endpoints: [String] { [source, destination] }
}
