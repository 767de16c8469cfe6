// swift-tools-version:6.2
// The config loader's fuzzer: not part of the root package or of `swift test`; Fuzz/build.sh
// builds it with `-sanitize=fuzzer,address` and Fuzz/run.sh runs it.
// Like Benchmarks/, it compiles the project's sources through symlinks: the loader
// (Sources/RunnerDaemon/Config, linked inside the fuzz target) and what the loader imports
// (Systemd, for the process environment, and CSystemd under it; Runner, for signal names),
// plus Yams.
import PackageDescription

let package = Package(
    name: "runnerd-fuzz",
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .target(name: "Systemd", dependencies: ["CSystemd", .product(name: "Logging", package: "swift-log")]),
        .target(name: "Runner"),
        .executableTarget(
            name: "ConfigLoaderFuzz",
            dependencies: ["Systemd", "Runner", .product(name: "Yams", package: "Yams")]
        ),
    ]
)

for target in package.targets where target.type != .system {
    target.swiftSettings = [
        .swiftLanguageMode(.v6),
        .enableUpcomingFeature("ExistentialAny"),
        .enableUpcomingFeature("InternalImportsByDefault"),
        .enableUpcomingFeature("MemberImportVisibility"),
        .treatAllWarnings(as: .error),
    ]
}
