extension HTTPFrontend {
    /// The route a request is counted under in the metrics: its path with keys, values and
    /// ids replaced by placeholders, so what clients send never becomes a label. Paths no
    /// route serves are all "other".
    static func routeTemplate(uri: String) -> String {
        let path = uri.utf8.firstIndex(of: UInt8(ascii: "?")).map { uri[..<$0] } ?? uri[...]
        if path.hasPrefix(keyPrefix) {
            let parts = path.dropFirst(keyPrefix.count).split(separator: "/", omittingEmptySubsequences: false)
            switch parts.count {
            case 1: return "/api/v1/key/{key}"
            case 2 where parts[1] == "incr": return "/api/v1/key/{key}/incr"
            case 2: return "/api/v1/key/{key}/{value}"
            case 3 where parts[1] == "value": return "/api/v1/key/{key}/value/{value}"
            default: return "other"
            }
        }
        if path.hasPrefix("/api/v1/node/") { return "/api/v1/node/{id}" }
        let known = fixedRoutes.first { $0 == path }
        return known ?? "other"
    }

    /// Every route without a placeholder.
    static let fixedRoutes = [
        "/health", "/ready", "/metrics", "/ui", "/api/v1/status", "/api/v1/cluster", "/api/v1/watch", "/api/v1/txn",
        "/api/v1/batch", "/api/v1/snapshot", "/api/v1/backup", "/api/v1/node", "/api/v1/leader/transfer",
    ]
}
