extension HTTPFrontend {
    /// The route a request is counted under in the metrics: its path with keys, values and
    /// ids replaced by placeholders, so what clients send never becomes a label. Paths no
    /// route serves are all "other".
    static func routeTemplate(uri: String) -> String {
        let path = uri.utf8.firstIndex(of: UInt8(ascii: "?")).map { uri[..<$0] } ?? uri[...]
        // Compared as bytes: String's hasPrefix compares grapheme clusters.
        if path.utf8.starts(with: keyPrefix.utf8) {
            // Cut at the slashes without making an array: this runs for every request.
            let rest = path.dropFirst(keyPrefix.count)
            guard let first = rest.utf8.firstIndex(of: UInt8(ascii: "/")) else { return "/api/v1/key/{key}" }
            let second = rest[rest.index(after: first)...]
            guard let slash = second.utf8.firstIndex(of: UInt8(ascii: "/")) else {
                return second == "incr" ? "/api/v1/key/{key}/incr" : "/api/v1/key/{key}/{value}"
            }
            let third = second[second.index(after: slash)...]
            return second[..<slash] == "value" && !third.utf8.contains(UInt8(ascii: "/")) ? "/api/v1/key/{key}/value/{value}" : "other"
        }
        if path.utf8.starts(with: "/api/v1/node/".utf8) { return "/api/v1/node/{id}" }
        let known = fixedRoutes.first { $0 == path }
        return known ?? "other"
    }

    /// Every route without a placeholder.
    static let fixedRoutes = [
        "/health", "/ready", "/metrics", "/ui", "/api/v1/status", "/api/v1/cluster", "/api/v1/watch", "/api/v1/txn",
        "/api/v1/batch", "/api/v1/session", "/api/v1/snapshot", "/api/v1/backup", "/api/v1/node", "/api/v1/leader/transfer",
    ]
}
