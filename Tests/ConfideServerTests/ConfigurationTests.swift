import ConfideAccounts
import ConfideServer
import ConfideStore
import ConfideTesting
import Foundation
import Testing

let validKey = Data((0..<32).map { UInt8($0) }).base64EncodedString()

@Suite("server configuration")
struct ConfigurationTests {
    @Test("defaults apply when nothing is given (with a secret)")
    func defaults() throws {
        let c = try ServerConfiguration.resolve(flags: ServeFlags(), environment: ["CONFIDE_SECRET_KEY": validKey, "CONFIDE_AUDIT_KEY_FILE": "/run/keys/audit.key"])
        #expect(c.host == "127.0.0.1")
        #expect(c.port == 8080)
        #expect(c.dataDir == "./confide-data")
        #expect(c.database == .sqlite(path: "./confide-data/confide.sqlite"))
        #expect(c.accounts.bcryptCost == 12)
        #expect(c.publicURL == "http://127.0.0.1:8080")
        #expect(!c.demo)
    }

    @Test("flags beat the environment, which beats the defaults")
    func precedence() throws {
        var flags = ServeFlags()
        flags.port = 9000
        flags.databaseURL = "postgres://flag@db/confide"
        let env = [
            "CONFIDE_SECRET_KEY": validKey, "CONFIDE_AUDIT_KEY_FILE": "/run/keys/audit.key", "CONFIDE_PORT": "7000", "CONFIDE_HOST": "0.0.0.0", "DATABASE_URL": "postgres://env@db/confide",
            "CONFIDE_BCRYPT_COST": "13",
        ]
        let c = try ServerConfiguration.resolve(flags: flags, environment: env)
        #expect(c.port == 9000)
        #expect(c.host == "0.0.0.0")
        #expect(c.database == .postgres(url: "postgres://flag@db/confide"))
        #expect(c.accounts.bcryptCost == 13)
        #expect(c.publicURL == "http://localhost:9000")
    }

    @Test("without --demo a missing secret refuses to start; with --demo it is generated once into the data directory")
    func secrets() throws {
        #expect(throws: ConfigurationError.self) { try ServerConfiguration.resolve(flags: ServeFlags(), environment: [:]) }
        #expect(throws: ConfigurationError.self) {
            try ServerConfiguration.resolve(flags: ServeFlags(), environment: ["CONFIDE_SECRET_KEY": validKey])
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("confide-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var flags = ServeFlags()
        flags.demo = true
        flags.dataDir = dir
        let c = try ServerConfiguration.resolve(flags: flags, environment: [:])
        _ = try c.masterKey()
        let path = dir + "/secret.key"
        let first = try String(contentsOfFile: path, encoding: .utf8)
        _ = try c.masterKey()
        #expect(try String(contentsOfFile: path, encoding: .utf8) == first)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test(
        "invalid settings are refused at boot with a message naming the setting",
        arguments: [
            ("CONFIDE_PORT", "70000"), ("CONFIDE_PORT", "eighty"), ("CONFIDE_BCRYPT_COST", "10"), ("DATABASE_URL", "mysql://x"),
            ("CONFIDE_SECRET_KEY", "dG9vIHNob3J0"), ("CONFIDE_PUBLIC_URL", "ftp://x"), ("CONFIDE_MAX_BODY_BYTES", "10"),
            ("CONFIDE_SESSION_IDLE_SECONDS", "5"),
        ])
    func invalid(_ key: String, _ value: String) {
        var env = ["CONFIDE_SECRET_KEY": validKey, "CONFIDE_AUDIT_KEY_FILE": "/run/keys/audit.key"]
        env[key] = value
        do {
            _ = try ServerConfiguration.resolve(flags: ServeFlags(), environment: env)
            Issue.record("\(key)=\(value) was accepted")
        } catch let error as ConfigurationError {
            #expect(!error.description.contains(value) || value.count < 3)
        } catch {
            Issue.record("unexpected error type")
        }
    }
}

@Suite("demo seeding")
struct DemoSeederTests {
    @Test("seeds an operator, a practice admin, three clinicians in two practices and three patients, once")
    func seedOnce() async throws {
        try await TestWorld.with { world in
            let logins = try #require(try await DemoSeeder.seed(world.accounts, clinic: world.clinic))
            #expect(logins.filter { $0.role == "patient" }.count == 3)
            #expect(logins.filter { $0.otpauthURI != nil }.count == 5)
            #expect(try await DemoSeeder.seed(world.accounts, clinic: world.clinic) == nil)
            let patient = logins.first { $0.role == "patient" }!
            _ = try await world.accounts.signIn(
                email: patient.email, password: DemoSeeder.password, totp: nil, kind: .cookie,
                meta: RequestMeta(requestID: "t", clientAddress: "127.0.0.1"))
            #expect(DemoSeeder.describe(logins).contains("otpauth://totp/"))
        }
    }
}
