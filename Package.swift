// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "runnerd",
    products: [
        .library(name: "Runner", targets: ["Runner"]),
        .library(name: "Systemd", targets: ["Systemd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        // The library port. It must stay free of Foundation, Dispatch and every package.
        .target(name: "Runner"),
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
        .testTarget(name: "RunnerTests", dependencies: ["Runner"]),
        .testTarget(
            name: "SystemdTests",
            dependencies: [
                "Systemd",
                "SystemdTestHelper",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
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
for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + [
        .swiftLanguageMode(.v6),
        .enableUpcomingFeature("ExistentialAny"),
        .enableUpcomingFeature("InternalImportsByDefault"),
        .treatAllWarnings(as: .error),
    ]
}
