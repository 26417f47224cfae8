// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "raft-cache",
    products: [
        .executable(name: "raft-cache", targets: ["raft-cache"]),
        .library(name: "RaftWire", targets: ["RaftWire"]),
        // A Swift client of a cluster: sessions for exactly-once writes, watches as AsyncSequences.
        .library(name: "RaftCacheClient", targets: ["RaftCacheClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.30.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.0.0"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
    ],
    targets: [
        // The protobuf-c runtime, from the system (Debian: libprotobuf-c-dev).
        .systemLibrary(
            name: "CProtobufC",
            path: "Modules/CProtobufC",
            pkgConfig: "libprotobuf-c",
            providers: [.apt(["libprotobuf-c-dev"])]
        ),
        // protoc-c's output for Protos/*.proto (tools/gen-protos; committed).
        .target(
            name: "RaftProtoC",
            dependencies: ["CProtobufC"],
            path: "Modules/RaftProtoC",
            cSettings: [.headerSearchPath("include")]
        ),
        // CRC-32C for log records and snapshots (SSE4.2 when the processor has it).
        .target(name: "CRC32C", path: "Modules/CRC32C"),
        .target(name: "CMallocTrim", path: "Modules/CMallocTrim"),
        // Swift value types for every message, their codecs and the frame format.
        .target(name: "RaftWire", dependencies: ["RaftProtoC", "CProtobufC"]),
        // What a node measures (NodeMetric: names, help, kinds), recorded through swift-metrics;
        // exported in the Prometheus text format at /metrics.
        .target(
            name: "NodeMetrics",
            dependencies: [
                "RaftWire",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The Raft algorithm as a pure state machine: no I/O, clock or threads.
        .target(name: "RaftCore", dependencies: ["RaftWire"]),
        // The durable log, hard state and snapshots in --raft-dir, an in-memory twin, and the
        // ReadyProcessor that carries out a core's Readies against any storage.
        .target(
            name: "RaftStorage",
            dependencies: ["RaftCore", "RaftWire", "CRC32C", "NodeMetrics", .product(name: "Logging", package: "swift-log")]
        ),
        // Accepting connections safely (SwiftNIO): a listener with connection limits and
        // deadlines, TLS, and who a caller is (certificates, tokens, roles). Both protocols use it.
        .target(
            name: "Connections",
            dependencies: [
                "RaftWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The binary protocol over TCP: framing, the call server, pooled multiplexed clients.
        .target(
            name: "RaftTransport",
            dependencies: [
                "RaftWire", "Connections", "NodeMetrics",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The replicated state machine: the in-memory map, its commands and snapshots.
        .target(name: "CacheStore", dependencies: ["RaftWire", "CRC32C"]),
        // The driver: RaftCore with storage, transport and the store; the node's binary services.
        .target(
            name: "RaftNode",
            dependencies: [
                "RaftCore", "RaftStorage", "RaftTransport", "Connections", "CacheStore", "RaftWire", "NodeMetrics",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The public HTTP API, compatible with the original's routes, on SwiftNIO's HTTP/1.1.
        .target(
            name: "HTTPFrontend",
            dependencies: [
                "RaftNode", "Connections", "RaftWire", "NodeMetrics",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The Swift client library: finds the leader, retries safely, writes once through a session.
        .target(
            name: "RaftCacheClient",
            dependencies: [
                "RaftTransport", "RaftWire", "Connections",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // A deterministic cluster of RaftCores under a faulty simulated network.
        .target(name: "RaftSimulation", dependencies: ["RaftCore", "RaftStorage", "RaftWire", "CacheStore"]),
        .executableTarget(
            name: "raft-cache",
            dependencies: [
                "RaftWire", "RaftCore", "RaftStorage", "RaftTransport", "Connections", "RaftNode", "CacheStore", "HTTPFrontend",
                "CMallocTrim", "NodeMetrics",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            // jemalloc (Debian: libjemalloc-dev) instead of glibc's malloc: a node allocates and
            // frees small objects in bursts of a batch, which glibc's bins serve slowly
            // (tools/bench: about a quarter less CPU per binary write).
            linkerSettings: [.linkedLibrary("jemalloc", .when(platforms: [.linux]))]
        ),
        .executableTarget(
            name: "raft-sim",
            dependencies: ["RaftSimulation", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // A child process for the storage crash tests.
        .executableTarget(
            name: "raft-storage-torture",
            dependencies: ["RaftStorage", "RaftCore", "RaftWire", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "raft-storage-bench",
            dependencies: ["RaftStorage", "RaftCore", "RaftWire", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "tools/bench/raft-storage-bench"
        ),
        // A load generator over the binary protocol (tools/bench, the long tests).
        .executableTarget(
            name: "raft-cache-load",
            dependencies: [
                "RaftTransport", "Connections", "RaftWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "tools/bench/raft-cache-load"
        ),
        // The RaftCacheClient example the README shows (a counter and a watch); a test runs it.
        .executableTarget(
            name: "raft-cache-example",
            dependencies: ["RaftCacheClient", "RaftWire"],
            path: "tools/examples/raft-cache-example"
        ),
        // Decodes protocol traffic: a live proxy, pcap/pcapng captures, or raw streams (tools/wire-dump).
        .executableTarget(
            name: "wire-dump",
            dependencies: [
                "RaftWire", "RaftTransport", "Connections",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "tools/wire-dump"
        ),
        .testTarget(name: "RaftWireTests", dependencies: ["RaftWire", "RaftProtoC"]),
        .testTarget(name: "RaftCoreTests", dependencies: ["RaftCore", "RaftSimulation", "RaftStorage", "RaftWire"]),
        .testTarget(
            name: "RaftTransportTests",
            dependencies: [
                "RaftTransport", "Connections", "RaftWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "RaftNodeTests",
            dependencies: [
                "RaftNode", "RaftCore", "RaftStorage", "RaftTransport", "Connections", "CacheStore", "RaftWire", "CMallocTrim",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "CacheStoreTests", dependencies: ["CacheStore", "RaftWire"]),
        .testTarget(name: "RaftCacheClientTests", dependencies: ["RaftCacheClient", "RaftWire"]),
        .testTarget(name: "RaftStorageTests", dependencies: ["RaftStorage", "RaftCore", "RaftWire", "CRC32C"]),
        .testTarget(name: "WireDumpTests", dependencies: ["wire-dump", "RaftWire"]),
        // The executable's own parsing of flags.
        .testTarget(
            name: "RaftCacheTests",
            dependencies: [
                "raft-cache", "RaftNode", "RaftWire", "HTTPFrontend", "NodeMetrics",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
