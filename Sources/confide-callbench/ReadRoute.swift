import AsyncHTTPClient
import ConfideAccounts
import ConfideCore
import ConfideHTTP
import ConfidePolicy
import ConfideStore
import ConfideTesting
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1

/// Issue 3 item 8: an audited PHI read route against the same route with the gate and audit
/// switched off, in one run, on one server.
///
/// The audited route is the product's `GET /api/v1/me`: a patient reads their own record (name,
/// birth date) through facts, the policy decision, the durable audit append (group commit) and
/// the egress guard. Its twin, `GET /bench/me-unaudited`, exists only in this benchmark's router:
/// the same session middleware and the same store read and JSON, with a grant minted straight
/// from the policy engine: no facts, no gate, no audit entry. Clients keep their connections open
/// and share the machine's cores with the server (the ratio is the point). Phases alternate
/// (plain, audited, plain, audited) so drift hits both alike.
enum ReadRouteBench {
    struct PlainProfile: Encodable {
        let account_id: String
        let kind: String
        let email: String
        let given_name: String
        let family_name: String
        let birth_date: String
        let patient_id: String
    }

    static func run(requests: Int, logger: Logger) async throws -> String {
        let quiet = Logger(label: "confide.readbench", factory: { _ in SwiftLogNoOpLogHandler() })
        return try await CallWorld.with(logger: quiet) { world in
            var tokens: [String] = []
            for index in 0..<50 {
                let email = Fixtures.email("reader\(index)")
                _ = try await world.accounts.seedPatient(
                    RegistrationInput(email: email, password: Fixtures.password, givenName: "Reader", familyName: "Bench", birthDate: "1980-01-01"),
                    job: "bench")
                let signedIn = try await world.accounts.signIn(
                    email: email, password: Fixtures.password, totp: nil, kind: .bearer,
                    meta: RequestMeta(requestID: "bench", clientAddress: CallWorld.address(200_000 + index)))
                tokens.append(signedIn.token)
            }
            let router = buildRouter(world.deps)
            let engine = PolicyEngine()
            let patients = world.stores.patients
            router.group("bench", context: SignedInContext.self).get("me-unaudited") { _, context -> Response in
                guard case .patient(_, let patient) = context.principal,
                    let grant = engine.authorize(
                        AccessRequest(principal: context.principal, action: .read, resource: .patientRecord),
                        facts: ResourceFacts(resourceID: patient.description, owningPatient: patient), as: PatientRecordResource.self
                    ).1,
                    let record = try await patients.read(grant)
                else { return Response(status: .notFound) }
                let account = context.auth.account
                let body = try JSONEncoder().encode(
                    PlainProfile(
                        account_id: account.id.description, kind: account.kind.rawValue, email: account.email.value,
                        given_name: record.name.given, family_name: record.name.family, birth_date: record.birthDate.description,
                        patient_id: patient.description))
                return Response(
                    status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
            }
            return try await CallBench.serve(logger: quiet) { onRunning in
                Application(
                    router: router, server: httpServer(router), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                    onServerRunning: onRunning, logger: quiet)
            } body: { port in
                try await measure(world: world, port: port, tokens: tokens, requests: requests)
            }
        }
    }

    struct Phase {
        let route: String
        let concurrency: Int
        var seconds: Double = 0
        var requests = 0
        var rate: Double { seconds > 0 ? Double(requests) / seconds : 0 }
    }

    static func measure(world: CallWorld, port: Int, tokens: [String], requests: Int) async throws -> String {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let audited = "http://127.0.0.1:\(port)/api/v1/me", plain = "http://127.0.0.1:\(port)/bench/me-unaudited"
            // Warm both routes (connections, caches, the first commits).
            _ = try await load(client, url: plain, tokens: tokens, requests: 400, concurrency: 16)
            _ = try await load(client, url: audited, tokens: tokens, requests: 400, concurrency: 16)
            var rows: [String] = []
            for concurrency in [1, 16] {
                let n = concurrency == 1 ? max(requests / 4, 200) : requests
                var plainPhase = Phase(route: plain, concurrency: concurrency)
                var auditedPhase = Phase(route: audited, concurrency: concurrency)
                let sizeBefore = try await world.stores.audit.auditSize()
                let commitsBefore = world.recorder.commits.statistics
                for _ in 0..<2 {
                    plainPhase.seconds += try await load(client, url: plain, tokens: tokens, requests: n / 2, concurrency: concurrency)
                    plainPhase.requests += n / 2
                    auditedPhase.seconds += try await load(client, url: audited, tokens: tokens, requests: n / 2, concurrency: concurrency)
                    auditedPhase.requests += n / 2
                }
                // The audited route really audited: one entry per request, none from the twin.
                let appended = try await world.stores.audit.auditSize() - sizeBefore
                guard appended == UInt64(auditedPhase.requests) else {
                    throw BenchError("expected \(auditedPhase.requests) audit entries, found \(appended)")
                }
                let commits = world.recorder.commits.statistics
                let transactions = commits.transactions - commitsBefore.transactions
                let perCommit = Double(commits.entries - commitsBefore.entries) / Double(max(transactions, 1))
                let ratio = auditedPhase.rate / plainPhase.rate
                rows.append(
                    "| \(concurrency) | \(String(format: "%.0f", plainPhase.rate)) | \(String(format: "%.0f", auditedPhase.rate)) | "
                        + "\(String(format: "%.0f%%", ratio * 100)) | \(String(format: "%.1f", perCommit)) | "
                        + (concurrency == 1 ? "(one request at a time: nothing to share)" : (ratio >= 0.5 ? "met" : "missed")) + " |")
            }
            try await client.shutdown()
            let url = ProcessInfo.processInfo.environment["CONFIDE_TEST_DATABASE_URL"] ?? ""
            let database = url.isEmpty ? "SQLite file, synchronous=FULL" : "PostgreSQL"
            return """
                ## Audited PHI read route vs the same route without gate and audit (\(database))

                `GET /api/v1/me` (patient reads own record: facts, decision, durable audit append, egress guard) against a twin \
                route with the same session middleware, store read and JSON but a grant minted without facts, gate or audit. \
                \(requests) requests per route at 16 clients (a quarter of that one at a time), 50 patients, keep-alive \
                connections; client and server share the machine's \(ProcessInfo.processInfo.activeProcessorCount) cores. \
                Goal: audited >= 50% of unaudited throughput.

                | Clients | Unaudited req/s | Audited req/s | Audited / unaudited | Audit entries per commit | Goal |
                |---|---|---|---|---|---|
                \(rows.joined(separator: "\n"))
                """
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// Sends `requests` GETs from `concurrency` clients (round-robin over the patients' tokens);
    /// every answer must be 200. Returns the seconds taken.
    static func load(_ client: HTTPClient, url: String, tokens: [String], requests: Int, concurrency: Int) async throws -> Double {
        let clock = ContinuousClock()
        let started = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var i = worker
                    while i < requests {
                        var request = HTTPClientRequest(url: url)
                        request.headers.add(name: "Authorization", value: "Bearer \(tokens[i % tokens.count])")
                        let response = try await client.execute(request, timeout: .seconds(30))
                        _ = try await response.body.collect(upTo: 1 << 20)
                        guard response.status == .ok else { throw BenchError("\(url) answered \(response.status)") }
                        i += concurrency
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = clock.now - started
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}
