// swift-tools-version:6.2
// Benchmarks are not tests: this package is built and run only by Benchmarks/run-*.sh.
// It compiles the library sources through symlinks (Sources/Runner, Sources/Systemd, ...) rather than depending on
// the root package by path, because a path dependency's identity is the checkout's folder name.
import PackageDescription

let package = Package(
    name: "runnerd-benchmarks",
    dependencies: [
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .target(name: "Runner"),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .target(name: "Systemd", dependencies: ["CSystemd", .product(name: "Logging", package: "swift-log")]),
        .executableTarget(name: "NotifierBench", dependencies: ["Systemd"]),
        .executableTarget(
            name: "LogQueueBench",
            dependencies: ["Systemd", .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(name: "GroupRunnerBench", dependencies: ["Runner"]),
        .executableTarget(name: "TaskFloorBench"),
        .executableTarget(
            name: "ServiceGroupBench",
            dependencies: [
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)

for target in package.targets where target.type != .system {
    target.swiftSettings = [
        .swiftLanguageMode(.v6),
        .enableUpcomingFeature("ExistentialAny"),
        .enableUpcomingFeature("InternalImportsByDefault"),
        .enableUpcomingFeature("MemberImportVisibility"),
    ]
}
