// swift-tools-version:6.2
// The fuzzers of the config loader and of the control socket's request parser: not part of the
// root package or of `swift test`; Fuzz/build.sh builds them with `-sanitize=fuzzer,address`
// and Fuzz/run.sh runs one.
// Like Benchmarks/, it compiles the project's sources through symlinks: the config module
// (Sources/RunnerdConfig) as a target of its own, which the fuzz target imports, with Yams, and
// Runner, where the signal names live; and the control socket's codec (JSON, varlink messages,
// the interface's request decoding: three files of Sources/RunnerDaemon/Control) as ControlCodec.
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
        .target(name: "ControlCodec"),
        .executableTarget(name: "ControlRequestFuzz", dependencies: ["ControlCodec"]),
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
