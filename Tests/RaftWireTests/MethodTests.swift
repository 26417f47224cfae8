import RaftProtoC
import RaftWire
import Testing

/// The methods protoc-c generated from the `service` blocks of the .proto files.
private func generatedMethodPaths() -> [String] {
    [raftcache__raft__descriptor, raftcache__kv__descriptor].flatMap { service in
        (0..<Int(service.n_methods)).map { i in
            "/\(String(cString: service.name))/\(String(cString: service.methods[i].name))"
        }
    }
}

@Suite("Methods")
struct MethodTests {
    @Test("Method names every rpc of the .proto services, and nothing else")
    func matchesProtos() {
        #expect(Set(Method.allCases.map(\.rawValue)) == Set(generatedMethodPaths()))
    }

    @Test("request and response types match the .proto services")
    func types() {
        for service in [raftcache__raft__descriptor, raftcache__kv__descriptor] {
            for i in 0..<Int(service.n_methods) {
                let descriptor = service.methods[i]
                let path = "/\(String(cString: service.name))/\(String(cString: descriptor.name))"
                guard let method = Method(rawValue: path) else {
                    Issue.record("no Method for \(path)")
                    continue
                }
                #expect("raftcache.\(method.requestType)" == String(cString: descriptor.input.pointee.name))
                #expect("raftcache.\(method.responseType)" == String(cString: descriptor.output.pointee.name))
            }
        }
    }
}
