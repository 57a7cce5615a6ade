// swift-tools-version:6.2
// Confide: a telehealth platform where every access to patient data passes one policy engine.

import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Confide",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "confide", targets: ["confide"]),
        .library(name: "ConfideTesting", targets: ["ConfideTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.17.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // Pure domain values: no I/O, no NIO, no Hummingbird, no database.
        .target(name: "ConfideCore", swiftSettings: swiftSettings),
        // The deny-by-default policy engine; the only code that can mint a Grant or a Scope.
        .target(name: "ConfidePolicy", dependencies: ["ConfideCore"], swiftSettings: swiftSettings),
        // The tamper-evident audit log: entries, RFC 6962 hashing, proofs, signed checkpoints, the verifier. Pure.
        .target(
            name: "ConfideAudit",
            dependencies: ["ConfideCore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // The breach report's independent relationship check (issue 8): pure, and deliberately not
        // built on the policy engine, so a bug there cannot hide itself here.
        .target(name: "ConfideBreach", dependencies: ["ConfideCore", "ConfideAudit"], swiftSettings: swiftSettings),
        // Store ports (protocols) that take Grant / Scope.
        .target(
            name: "ConfideStore",
            dependencies: ["ConfideCore", "ConfidePolicy", "ConfideAudit", "ConfideBreach"],
            swiftSettings: swiftSettings
        ),
        // One SQL implementation of the ports over sql-kit, shared by SQLite and PostgreSQL.
        .target(
            name: "ConfideStoreSQL",
            dependencies: [
                "ConfideCore", "ConfidePolicy", "ConfideStore", "ConfideAudit", "ConfideBreach",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ConfideStoreSQLite",
            dependencies: [
                "ConfideStore", "ConfideStoreSQL",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Practices, availability, booking, the consultation lifecycle, notes. Pure service over the ports.
        .target(
            name: "ConfideClinic",
            dependencies: [
                "ConfideCore", "ConfidePolicy", "ConfideStore", "ConfideVault", "ConfideTriage", "ConfideBreach", "ConfideAudit",
                .product(name: "Logging", package: "swift-log"), .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The symptom checker: knowledge base (bundled, validated at load), inference, questions, red flags,
        // free-text finding extraction and the vignette evaluator. Pure: reads only its own resources.
        .target(
            name: "ConfideTriage",
            resources: [.copy("Resources/kb"), .copy("Resources/vignettes")],
            swiftSettings: swiftSettings
        ),
        // The call signalling protocol: message codec, rate limiter, per-connection state machine. Pure.
        .target(name: "ConfideSignalling", dependencies: ["ConfideCore"], swiftSettings: swiftSettings),
        // Recording encryption at rest (issue 6 item 4): envelope keys, sealed chunks, opaque blob names,
        // the filesystem blob store (its file I/O on a thread pool of its own). Crypto plus files; no database, no HTTP.
        .target(
            name: "ConfideVault",
            dependencies: [
                "ConfideCore", .product(name: "Crypto", package: "swift-crypto"), .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // An S3-compatible object store for the vault's blobs: AWS Signature V4 over async-http-client.
        .target(
            name: "ConfideObjectStore",
            dependencies: [
                "ConfideCore", "ConfideVault",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ConfideStorePostgres",
            dependencies: [
                "ConfideCore", "ConfideStore", "ConfideStoreSQL",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Accounts: registration, credentials, sessions, TOTP, throttling. No HTTP.
        .target(
            name: "ConfideAccounts",
            dependencies: [
                "ConfideCore", "ConfidePolicy", "ConfideStore", "ConfideAudit",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Resources/common-passwords.txt")],
            swiftSettings: swiftSettings
        ),
        // The only target that imports Hummingbird.
        .target(
            name: "ConfideHTTP",
            dependencies: [
                "ConfideCore", "ConfidePolicy", "ConfideStore", "ConfideAccounts", "ConfideAudit", "ConfideClinic", "ConfideTriage",
                "ConfideBreach", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                "ConfideSignalling",
            ],
            resources: [.copy("Resources/openapi.json"), .copy("Resources/static")],
            swiftSettings: swiftSettings
        ),
        // Email: the outbox delivery loop and its transports (SMTP relay, files for the demo).
        .target(
            name: "ConfideMail",
            dependencies: [
                "ConfideCore", "ConfideStore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Configuration, database opening, demo seeding and wiring; shared by the executable and the tests.
        .target(
            name: "ConfideServer",
            dependencies: [
                "ConfideCore", "ConfidePolicy", "ConfideStore", "ConfideStoreSQL", "ConfideStoreSQLite", "ConfideStorePostgres",
                "ConfideAccounts", "ConfideHTTP", "ConfideAudit", "ConfideClinic", "ConfideVault", "ConfideObjectStore", "ConfideTriage",
                "ConfideBreach", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ConfideTesting",
            dependencies: [
                "ConfideCore", "ConfidePolicy", "ConfideStore", "ConfideStoreSQL", "ConfideStoreSQLite",
                "ConfideStorePostgres", "ConfideAccounts", "ConfideHTTP", "ConfideAudit", "ConfideClinic", "ConfideVault", "ConfideTriage",
                "ConfideBreach", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"), .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "confide",
            dependencies: [
                "ConfideCore", "ConfideStore", "ConfideAccounts", "ConfideHTTP", "ConfideServer", "ConfideMail", "ConfideAudit", "ConfideClinic",
                "ConfideObjectStore", "ConfideVault", "ConfideTriage", "ConfideBreach", "ConfideStoreSQL", "ConfidePolicy",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The benchmark suite (issue 3 item 8): ratios against a baseline measured in the same run. `scripts/bench`.
        .executableTarget(
            name: "confide-bench",
            dependencies: [
                "ConfideCore", "ConfidePolicy", "ConfideAudit", "ConfideStore", "ConfideStoreSQL", "ConfideStoreSQLite",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The vault's seal/open throughput and durable puts (issue 6 item 8). `scripts/bench-vault`.
        .executableTarget(
            name: "confide-vaultbench",
            dependencies: ["ConfideVault", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // The call load benchmark (issue 5 item 6): 1,000 rooms (2,000 WebSockets) against a plain
        // WebSocket echo baseline in the same run. `scripts/bench-calls`.
        .executableTarget(
            name: "confide-callbench",
            dependencies: [
                "ConfideCore", "ConfideStore", "ConfideStoreSQL", "ConfideStoreSQLite", "ConfideAccounts", "ConfideClinic", "ConfideHTTP",
                "ConfideTesting", "ConfideBreach", "ConfidePolicy",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConfideCoreTests",
            dependencies: ["ConfideCore", .product(name: "PropertyBased", package: "swift-property-based")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConfideTriageTests",
            dependencies: ["ConfideTriage", .product(name: "PropertyBased", package: "swift-property-based")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConfideSignallingTests",
            dependencies: ["ConfideSignalling", .product(name: "PropertyBased", package: "swift-property-based")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConfideVaultTests",
            dependencies: [
                "ConfideVault", "ConfideCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConfideObjectStoreTests",
            dependencies: [
                "ConfideObjectStore", "ConfideVault",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConfidePolicyTests",
            dependencies: ["ConfideCore", "ConfidePolicy", .product(name: "PropertyBased", package: "swift-property-based")],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConfideAuditTests",
            dependencies: [
                "ConfideAudit", "ConfideCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConfideStoreTests",
            dependencies: [
                "ConfideCore", "ConfidePolicy", "ConfideStore", "ConfideTesting", "ConfideAudit",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConfideAccountsTests",
            dependencies: ["ConfideCore", "ConfideStore", "ConfideAccounts", "ConfideTesting", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConfideClinicTests",
            dependencies: [
                "ConfideCore", "ConfidePolicy", "ConfideStore", "ConfideClinic", "ConfideAccounts", "ConfideTesting", "ConfideAudit",
                "ConfideVault", "ConfideTriage", "ConfideBreach", "ConfideStoreSQL", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConfideServerTests",
            dependencies: ["ConfideAccounts", "ConfideServer", "ConfideStore", "ConfideTesting", "ConfideAudit", "ConfideCore", "ConfidePolicy",
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConfideHTTPTests",
            dependencies: [
                "ConfideCore", "ConfideStore", "ConfideAccounts", "ConfideHTTP", "ConfideTesting", "ConfideAudit", "ConfideClinic",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
