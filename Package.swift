// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "raft-cache",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "raft-cache", targets: ["raft-cache"]),
        .library(name: "RaftWire", targets: ["RaftWire"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
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
        // Swift value types for every message, their codecs and the frame format.
        .target(name: "RaftWire", dependencies: ["RaftProtoC", "CProtobufC"]),
        // The Raft algorithm as a pure state machine: no I/O, clock or threads.
        .target(name: "RaftCore", dependencies: ["RaftWire"]),
        // A deterministic cluster of RaftCores under a faulty simulated network.
        .target(name: "RaftSimulation", dependencies: ["RaftCore", "RaftWire"]),
        .executableTarget(
            name: "raft-cache",
            dependencies: [
                "RaftWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "raft-sim",
            dependencies: ["RaftSimulation", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "RaftWireTests", dependencies: ["RaftWire", "RaftProtoC"]),
        .testTarget(name: "RaftCoreTests", dependencies: ["RaftCore", "RaftSimulation", "RaftWire"]),
    ],
    swiftLanguageModes: [.v6]
)
