// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Switchyard",
    products: [
        .executable(name: "switchyard", targets: ["switchyard"]),
    ],
    traits: [
        // The HTTP listener (status page, /metrics). The sanitizer runs of scripts/test.sh build
        // without it (--disable-default-traits): SwiftNIO and Hummingbird take minutes to build
        // on two cores and are not ours to sanitize; SwitchyardWeb, the page's logic, stays in.
        .trait(name: "HTTP", description: "The status page and /metrics over HTTP (Hummingbird)."),
        .default(enabledTraits: ["HTTP"]),
    ],
    dependencies: [
        // The CLI's argument parsing.
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // The log API Swift servers share; our handler keeps the daemon's one-line format.
        // 1.11.0 brought LogHandler.log(event:), which our handler implements.
        .package(url: "https://github.com/apple/swift-log", from: "1.11.0"),
        // The status page's HTTP server (SwitchyardHTTP), off the data plane; its default traits
        // (swift-configuration, full Foundation) are not needed.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        // bcrypt for the status page's passwords (HummingbirdBcrypt: C bcrypt and a Swift face, no NIO).
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        // The listener's ServiceGroup (graceful stop); Hummingbird builds on it already.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
        // HTTP field names and values, as Hummingbird's requests and responses carry them.
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
    ],
    targets: [
        // libpcap: compiles the VIP filter to classic BPF and captures ARP.
        .systemLibrary(name: "CPcap", pkgConfig: "libpcap", providers: [.apt(["libpcap-dev"])]),
        // libnet: builds ARP replies and gratuitous ARP frames. Debian ships no .pc file for it.
        .systemLibrary(name: "CLibnet", providers: [.apt(["libnet1-dev"])]),
        // libcrypto (OpenSSL): HMAC-SHA256 of the connection-sync authentication envelope.
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // libssl (OpenSSL): the TLS client of the SSL_GET checker.
        .systemLibrary(name: "CTLS", pkgConfig: "libssl", providers: [.apt(["libssl-dev"])]),
        // The few kernel structs and constants Swift's Glibc does not expose, and the AF_XDP
        // path (libbpf loads our XDP program, libxdp makes the socket).
        .target(name: "CSwitchyard", linkerSettings: [.linkedLibrary("xdp"), .linkedLibrary("bpf")]),
        // The data plane: stdlib only, no I/O, no allocation per packet.
        .target(name: "SwitchyardCore"),
        // Linux I/O: packet rings, interfaces, neighbours, ARP, kernel guard.
        .target(name: "SwitchyardIO", dependencies: ["SwitchyardCore", "CSwitchyard", "CPcap", "CLibnet"]),
        // Config, engine assembly, health checks (CSwitchyard: epoll for the checkers' loop).
        .target(name: "SwitchyardControl", dependencies: [
            "SwitchyardCore", "SwitchyardIO", "CSwitchyard", "CCrypto", "CTLS", .product(name: "Logging", package: "swift-log"),
        ]),
        // The status page and /metrics as plain functions of a request: auth, sessions, CSRF,
        // the JSON model, the page's assets. No sockets (tested with fakes).
        .target(name: "SwitchyardWeb", dependencies: [
            "SwitchyardControl", "SwitchyardCore", "CCrypto", .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
        ]),
        // SwitchyardWeb served by Hummingbird, started and stopped by the daemon.
        .target(name: "SwitchyardHTTP", dependencies: [
            "SwitchyardWeb", "SwitchyardControl", "SwitchyardIO", .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(
            name: "switchyard",
            dependencies: [
                "SwitchyardControl", "SwitchyardIO", "SwitchyardCore", "SwitchyardWeb",
                .target(name: "SwitchyardHTTP", condition: .when(traits: ["HTTP"])),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // In-process benchmarks of the data plane (bench/micro.sh runs them, also under valgrind).
        .executableTarget(name: "switchyard-bench", dependencies: ["SwitchyardCore", "SwitchyardIO"], path: "bench/micro"),
        // The health checkers under load: threads, CPU, RSS and schedule lateness (bench/checkers.sh).
        .executableTarget(name: "switchyard-checkbench", dependencies: ["SwitchyardControl", "SwitchyardIO", "SwitchyardCore"],
                          path: "bench/checkers"),
        // libFuzzer targets (Tests/fuzz.sh builds them with -sanitize=fuzzer,address).
        .target(name: "FuzzSupport", path: "Tests/Fuzz/FuzzSupport"),
        .executableTarget(name: "fuzz-pipeline", dependencies: ["SwitchyardCore", "FuzzSupport"], path: "Tests/Fuzz/FuzzPipeline"),
        .executableTarget(name: "fuzz-config", dependencies: ["SwitchyardControl", "FuzzSupport"], path: "Tests/Fuzz/FuzzConfig"),
        .executableTarget(name: "fuzz-adm", dependencies: ["SwitchyardControl", "FuzzSupport"], path: "Tests/Fuzz/FuzzAdm"),
        .executableTarget(name: "fuzz-vrrp", dependencies: ["SwitchyardControl", "FuzzSupport"], path: "Tests/Fuzz/FuzzVRRP"),
        .executableTarget(name: "fuzz-sync", dependencies: ["SwitchyardControl", "FuzzSupport"], path: "Tests/Fuzz/FuzzSync"),
        .testTarget(name: "SwitchyardCoreTests", dependencies: ["SwitchyardCore"]),
        .testTarget(name: "SwitchyardControlTests", dependencies: [
            "SwitchyardControl", "SwitchyardIO", .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "SwitchyardIOTests", dependencies: ["SwitchyardIO", "CSwitchyard"]),
        .testTarget(name: "SwitchyardWebTests", dependencies: [
            "SwitchyardWeb", "SwitchyardControl", "SwitchyardCore", .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
        ]),
    ]
)
