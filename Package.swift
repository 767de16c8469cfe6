// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "runnerd",
    products: [
        .library(name: "Runner", targets: ["Runner"]),
        .library(name: "Systemd", targets: ["Systemd"]),
        // Runner for swift-service-lifecycle users; a product of its own, so that Runner stays dependency-free.
        .library(name: "RunnerServiceLifecycle", targets: ["RunnerServiceLifecycle"]),
        .executable(name: "runnerd", targets: ["runnerd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // `swift package generate-documentation --target Runner` (or Systemd); a build plugin only.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // The library port. It must stay free of Foundation, Dispatch and every package.
        .target(name: "Runner"),
        .target(
            name: "RunnerServiceLifecycle",
            dependencies: [
                "Runner",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        .target(
            name: "Systemd",
            dependencies: [
                "CSystemd",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The config model, its decoding and validation with located errors. No processes, and no
        // I/O beyond reading the config and environment files.
        .target(
            name: "RunnerdConfig",
            // Runner for UnixSignal, the one table of signal names.
            dependencies: ["Runner", .product(name: "Yams", package: "Yams")]
        ),
        // Linux calls Swift cannot make: fork/exec for a threaded parent, epoll, eventfd, pipe2.
        .target(name: "CLinuxSupport"),
        .target(
            name: "RunnerDaemon",
            dependencies: [
                "Runner",
                "Systemd",
                "RunnerdConfig",
                "CLinuxSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "runnerd",
            dependencies: [
                "RunnerDaemon",
                "RunnerdConfig",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "RunnerTests", dependencies: ["Runner"]),
        .testTarget(name: "RunnerdConfigTests", dependencies: ["RunnerdConfig", "RunnerdTestSupport"]),
        .testTarget(
            name: "RunnerServiceLifecycleTests",
            dependencies: [
                "RunnerServiceLifecycle",
                "Runner",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "RunnerDaemonTests",
            dependencies: [
                "RunnerDaemon",
                "RunnerdConfig",
                "runnerd",
                "RunnerdTestSupport",
                "Runner",
                "Systemd",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "SystemdTests",
            dependencies: [
                "Systemd",
                "SystemdTestHelper",
                "RunnerdTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What several test targets share: a notify-socket receiver, deadlines, the config fixture and
        // the table of bad configs.
        .target(name: "RunnerdTestSupport", dependencies: ["RunnerdConfig"], path: "Tests/RunnerdTestSupport"),
        // A fixture program SystemdTests runs as a child process (in a private mount namespace for
        // the journal), where changing the environment or binding /run/systemd/journal is safe.
        .executableTarget(
            name: "SystemdTestHelper",
            dependencies: [
                "Systemd",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/SystemdTestHelper"
        ),
    ]
)

// Package-wide strictness, applied once to every target.
for target in package.targets where target.type != .system && target.name != "CLinuxSupport" {
    target.swiftSettings = (target.swiftSettings ?? []) + [
        .swiftLanguageMode(.v6),
        .enableUpcomingFeature("ExistentialAny"),
        .enableUpcomingFeature("InternalImportsByDefault"),
        .enableUpcomingFeature("MemberImportVisibility"),
        .treatAllWarnings(as: .error),
    ]
}
