// swift-tools-version:6.2
// The config loader's fuzzer: not part of the root package or of `swift test`; Fuzz/build.sh
// builds it with `-sanitize=fuzzer,address` and Fuzz/run.sh runs it.
// Like Benchmarks/, it compiles the project's sources through symlinks: the config module
// (Sources/RunnerdConfig) as a target of its own, which the fuzz target imports, with Yams, and
// Runner, where the signal names live.
import PackageDescription

let package = Package(
    name: "runnerd-fuzz",
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        .target(name: "Runner"),
        .target(name: "RunnerdConfig", dependencies: ["Runner", .product(name: "Yams", package: "Yams")]),
        .executableTarget(name: "ConfigLoaderFuzz", dependencies: ["RunnerdConfig"]),
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
