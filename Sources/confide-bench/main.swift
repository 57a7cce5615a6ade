// confide-bench: the benchmark suite of issue 3 item 8. Every number is reported together with a
// ratio against a baseline measured in the same run (or against a stated goal), never as a timed
// unit test. Run it with `scripts/bench` (release build); `--out FILE` writes the markdown table.

import ConfideAudit
import ConfideCore
import ConfidePolicy
import ConfideStore
import ConfideStoreSQL
import ConfideStoreSQLite
import Crypto
import Foundation
import Logging

// MARK: - arguments

var outPath: String?
var mixPath: String?
var policyJSONPath: String?
var quick = false
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--out": outPath = arguments.popFirst()
    case "--dump-mix": mixPath = arguments.popFirst()
    case "--policy-json": policyJSONPath = arguments.popFirst()
    case "--quick": quick = true
    case "-h", "--help":
        print("usage: confide-bench [--out FILE] [--dump-mix FILE.json] [--policy-json FILE.json] [--quick]")
        exit(0)
    default:
        FileHandle.standardError.write(Data("unknown argument \(argument)\n".utf8))
        exit(2)
    }
}

// MARK: - helpers

func seconds(_ d: Duration) -> Double {
    let c = d.components
    return Double(c.seconds) + Double(c.attoseconds) / 1e18
}

func time<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let start = ContinuousClock.now
    let value = try body()
    return (value, seconds(ContinuousClock.now - start))
}

func time<T>(_ body: () async throws -> T) async rethrows -> (T, Double) {
    let start = ContinuousClock.now
    let value = try await body()
    return (value, seconds(ContinuousClock.now - start))
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    let i = min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)
    return sorted[max(0, i)]
}

func fmt(_ x: Double, _ digits: Int = 0) -> String { String(format: "%.\(digits)f", x) }
func rate(_ x: Double) -> String {
    x >= 1e6 ? fmt(x / 1e6, 2) + " M/s" : x >= 1e3 ? fmt(x / 1e3, 1) + " k/s" : fmt(x, 0) + " /s"
}
func micro(_ s: Double) -> String { fmt(s * 1e6, 2) + " µs" }

struct Row { let area, measurement, value, ratio: String }
var rows: [Row] = []
@MainActor func report(_ area: String, _ measurement: String, _ value: String, _ ratio: String = "") {
    rows.append(Row(area: area, measurement: measurement, value: value, ratio: ratio))
    print("  \(measurement): \(value)\(ratio.isEmpty ? "" : "  [\(ratio)]")")
}

let silent = Logger(label: "confide.bench", factory: { _ in SwiftLogNoOpLogHandler() })

func entry(_ i: Int, patient: Patient.ID? = nil) -> AuditEntry {
    // The shape of a gate decision entry: actor, action, resource, patient, rule IDs, request, purpose.
    try! AuditEntry(
        time: 1_767_225_600_000 + Int64(i), actor: "clinician:0b6f5c1e-8f53-4d3c-9a55-2f1b7f0c\(String(format: "%04x", i & 0xFFFF))",
        action: "read", resourceType: "consultation", resourceID: "c-\(i)",
        patientID: (patient ?? Patient.ID(UUID(uuid: (0, 0, 0, 0, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, UInt8(i >> 8 & 0xFF), UInt8(i & 0xFF)))))
            .description,
        decision: .allowed, ruleIDs: ["clinician.assigned-consultations.v1"], requestID: "req-\(i)", purpose: "care")
}

// MARK: - a. policy engine

let engine = PolicyEngine()
let mixCount = quick ? 10_000 : 100_000
let policyMix = PolicyMix(count: mixCount)
let mix = policyMix.items
if let mixPath {
    let requests = mix.map { item -> [String: Any] in
        var j = item.json
        j["expected"] = engine.decide(item.request, item.facts).isAllowed ? "allow" : "deny"
        return j
    }
    let json = try JSONSerialization.data(withJSONObject: ["world": policyMix.world, "requests": requests], options: [.sortedKeys])
    try json.write(to: URL(fileURLWithPath: mixPath))
}

print("a. policy engine (\(mix.count) requests, \(PolicyMix.templates.count) request templates)")
var allowed = 0
// Warm up, then throughput over the whole mix several times.
for item in mix where engine.decide(item.request, item.facts).isAllowed { allowed += 1 }
let passes = quick ? 3 : 10
let (_, decideSeconds) = time {
    for _ in 0..<passes {
        for item in mix where engine.decide(item.request, item.facts).isAllowed { allowed &+= 1 }
    }
}
let decisionsPerSecond = Double(passes * mix.count) / decideSeconds
// Latency: each call timed alone (includes ~20-40 ns of clock overhead).
var latencies: [Double] = []
latencies.reserveCapacity(mix.count)
for item in mix {
    let start = ContinuousClock.now
    let d = engine.decide(item.request, item.facts)
    latencies.append(seconds(ContinuousClock.now - start))
    if d.isAllowed { allowed &+= 1 }
}
latencies.sort()
let allowShare = Double(mix.filter { engine.decide($0.request, $0.facts).isAllowed }.count) / Double(mix.count)
report("policy", "decide throughput (mix, \(fmt(allowShare * 100, 0))% allow)", rate(decisionsPerSecond))
report("policy", "decide latency p50 / p99", "\(micro(percentile(latencies, 0.5))) / \(micro(percentile(latencies, 0.99)))")

if let policyJSONPath {
    let numbers: [String: Double] = [
        "decisions_per_s": decisionsPerSecond, "p50_us": percentile(latencies, 0.5) * 1e6, "p99_us": percentile(latencies, 0.99) * 1e6,
    ]
    try JSONSerialization.data(withJSONObject: numbers, options: [.sortedKeys]).write(to: URL(fileURLWithPath: policyJSONPath))
}

// scope compilation: list scopes for each kind of principal, over the resource kinds a list reaches.
let scopeRequests: [(AccessRequest, ResourceKind)] = mix.prefix(1000).map { item in
    (AccessRequest(principal: item.request.principal, action: .list, resource: item.request.resource), item.request.resource)
}
@MainActor func compileScope(_ r: AccessRequest, _ kind: ResourceKind) -> Bool {
    switch kind {
    case .consultation: engine.scope(r, as: ConsultationResource.self).0.isAllowed
    case .note: engine.scope(r, as: NoteResource.self).0.isAllowed
    default: engine.scope(r, as: PatientRecordResource.self).0.isAllowed
    }
}
for (r, k) in scopeRequests where compileScope(r, k) { allowed &+= 1 }
let scopePasses = quick ? 10 : 50
let (_, scopeSeconds) = time {
    for _ in 0..<scopePasses { for (r, k) in scopeRequests where compileScope(r, k) { allowed &+= 1 } }
}
let scopesPerSecond = Double(scopePasses * scopeRequests.count) / scopeSeconds
report("policy", "scope(...) compilations", rate(scopesPerSecond), "\(fmt(decisionsPerSecond / scopesPerSecond, 1))x cost of one decide")

// MARK: - b. audit

print("b. audit log")
let benchDir = FileManager.default.temporaryDirectory.appendingPathComponent("confide-bench-\(getpid())")
try FileManager.default.createDirectory(at: benchDir, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: benchDir) }

@MainActor func openStores(_ name: String) async throws -> ConfideStores {
    let backend = try await SQLiteBackend.open(path: benchDir.appendingPathComponent(name).path, logger: silent)
    let stores = SQLStores(backend: backend).stores
    _ = try await stores.system.migrate()
    return stores
}

do {
    let stores = try await openStores("audit.sqlite")
    let n = quick ? 512 : 4096
    let entries = (0..<(2 * n + 16)).map { entry($0) }
    for e in entries.prefix(16) { _ = try await stores.audit.append([e]) }  // warm up
    let (_, singleSeconds) = try await time {
        for e in entries[16..<(16 + n)] { _ = try await stores.audit.append([e]) }
    }
    let batchSlice = Array(entries[(16 + n)..<(16 + n + n - n % 16)])
    let (_, batchSeconds) = try await time {
        var i = 0
        while i < batchSlice.count {
            _ = try await stores.audit.append(Array(batchSlice[i..<(i + 16)]))
            i += 16
        }
    }
    let single = Double(n) / singleSeconds
    let batched = Double(batchSlice.count) / batchSeconds
    report("audit", "SQLite durable appends, 1 entry/transaction", rate(single), "baseline")
    report("audit", "SQLite durable appends, 16 entries/transaction", rate(batched), "\(fmt(batched / single, 1))x group-commit ratio")
    try await stores.system.shutdown()
}

do {
    let million = quick ? 100_000 : 1_000_000
    let label = million == 1_000_000 ? "10^6" : "\(million)"
    let (encoded, genSeconds) = time { (0..<million).map { entry($0).encoded() } }
    print("  (generated \(million) synthetic entries in \(fmt(genSeconds, 2)) s, not counted)")
    let (log, rootSeconds) = time { MerkleLog(encodedEntries: encoded) }
    let root = log.rootHash
    let signer = try CheckpointSigner(keyName: "bench.confide.example", privateKey: Curve25519.Signing.PrivateKey())
    let half = try signer.sign(
        try Checkpoint(origin: "bench.confide.example", size: UInt64(million / 2), rootHash: try log.rootHash(size: UInt64(million / 2))))
    let full = try signer.sign(try log.checkpoint(origin: "bench.confide.example"))
    let verifier = AuditVerifier(origin: "bench.confide.example", checkpointVerifier: signer.verifier)
    let (verdict, verifySeconds) = time {
        verifier.verify(entries: encoded, checkpoints: [half.note, full.note], storedLeafHashes: log.leafHashes)
    }
    guard verdict.isValid, root == full.checkpoint.rootHash else { fatalError("audit verification failed: \(verdict.findings.prefix(3))") }
    // The root is the bench's own reference (the verifier recomputes the tree itself); the goal is
    // `audit verify`, measured end to end over a database below.
    report("audit", "MerkleLog root over \(label) entries (the reference root, not part of verify)", fmt(rootSeconds, 2) + " s")
    report("audit", "AuditVerifier.verify \(label) entries in memory, 2 checkpoints", fmt(verifySeconds, 2) + " s",
           "\(fmt(verifySeconds / 5 * 100, 0))% of 5 s goal")

    for size in [1_000, 1_000_000] where size <= log.leafHashes.count || size == 1_000_000 {
        let sub = size <= log.leafHashes.count ? MerkleLog(leafHashes: Array(log.leafHashes.prefix(size))) : log
        let n = sub.size
        let inclusion = try sub.inclusionProof(for: LogIndex(n / 3))
        let consistency = try sub.consistencyProof(from: n / 3, to: n)
        guard inclusion.verify(leafHash: sub.leafHashes[Int(n / 3)], root: sub.rootHash),
            consistency.verify(oldRoot: try sub.rootHash(size: n / 3), newRoot: sub.rootHash)
        else { fatalError("proof did not verify") }
        let tag = n == 1_000 ? "10^3" : n == 1_000_000 ? "10^6" : "\(n)"
        report("audit", "inclusion proof at \(tag)", "\(inclusion.hashes.count) hashes, \(inclusion.hashes.count * MerkleHash.byteCount) B",
               "ceil(log2 n) = \(Int(log2(Double(n)).rounded(.up)))")
        report("audit", "consistency proof \(tag)/3 → \(tag)", "\(consistency.hashes.count) hashes, \(consistency.hashes.count * MerkleHash.byteCount) B",
               "ceil(log2 n) = \(Int(log2(Double(n)).rounded(.up)))")
    }
}

// MARK: - b2. `audit verify` end to end

// What `confide audit verify` does on a stopped server: AuditCheck.verify over the SQLite file
// (read every entry and stored leaf hash in batches, recompute the tree, check each checkpoint).
do {
    let million = quick ? 100_000 : 1_000_000
    let label = million == 1_000_000 ? "10^6" : "\(million)"
    let stores = try await openStores("verify.sqlite")
    let signer = try CheckpointSigner(keyName: "bench.confide.example", privateKey: Curve25519.Signing.PrivateKey())
    let (_, fillSeconds) = try await time {
        var next = 0
        while next < million {
            let count = min(5_000, million - next)
            _ = try await stores.audit.append((next..<(next + count)).map { entry($0) })
            next += count
            if next == million / 2 || next == million {
                let log = MerkleLog(leafHashes: try await stores.audit.leafHashes(from: 0, limit: next))
                try await stores.audit.storeCheckpoint(try signer.sign(try log.checkpoint(origin: "bench.confide.example")), at: Date())
            }
        }
    }
    print("  (filled \(million) entries and 2 checkpoints in \(fmt(fillSeconds, 1)) s, not counted)")
    let (verdict, seconds) = try await time {
        try await AuditCheck.verify(audit: stores.audit, key: signer.verifier, origin: "bench.confide.example")
    }
    guard verdict.isValid, verdict.entryCount == UInt64(million) else { fatalError("audit verify failed: \(verdict.findings.prefix(3))") }
    report("audit", "`audit verify` over a SQLite file of \(label) entries, 2 checkpoints (end to end)", fmt(seconds, 2) + " s",
           "\(fmt(seconds / 5 * 100, 0))% of 5 s goal (\(seconds < 5 ? "met" : "missed"))")
    try await stores.system.shutdown()
}

// MARK: - c. audited vs unaudited read

/// Runs `body(0..<n)` on `workers` tasks; counts the `true` answers.
func concurrently(_ workers: Int, _ n: Int, _ body: @escaping @Sendable (Int) async throws -> Bool) async throws -> Int {
    try await withThrowingTaskGroup(of: Int.self) { group in
        for w in 0..<workers {
            group.addTask {
                var hits = 0
                for i in stride(from: w, to: n, by: workers) where try await body(i) { hits += 1 }
                return hits
            }
        }
        return try await group.reduce(0, +)
    }
}

print("c. audited vs unaudited read (SQLite file)")
do {
    let stores = try await openStores("read.sqlite")
    let recorder = AuditLogRecorder(store: stores.audit, clock: SystemWallClock())
    let gate = AccessGate(engine: engine, facts: stores.facts, recorder: recorder)
    var people: [(Principal, Patient.ID)] = []
    for i in 0..<50 {
        let account = Account.ID(), patient = Patient.ID(), now = Date()
        let principal = Principal.patient(account: account, patient: patient)
        let grant = try await gate.createPatientRecord(patient, by: .system(job: "bench"), purpose: "seed", requestID: "seed-\(i)")
        try await stores.patients.createPatientAccount(
            AccountRecord(id: account, email: try EmailAddress("bench\(i)@bench.confide.test"), passwordHash: "-", kind: .patient, createdAt: now),
            record: PatientRecord(id: patient, account: account, name: try PersonName(given: "Bench", family: "Patient\(i)"),
                                  birthDate: CalendarDate(year: 1980, month: 1, day: 1)!, createdAt: now, updatedAt: now),
            grant: grant)
        people.append((principal, patient))
    }
    // The unaudited baseline reads the same rows with grants minted once, without gate and audit.
    let grants = people.map { p in engine.authorize(AccessRequest(principal: p.0, action: .read, resource: .patientRecord),
                                                   facts: ResourceFacts(resourceID: p.1.description, owningPatient: p.1),
                                                   as: PatientRecordResource.self).1! }
    let n = quick ? 500 : 4000
    var found = 0
    for g in grants where try await stores.patients.read(g) != nil { found += 1 }  // warm up
    guard found == grants.count else { fatalError("the seeded records are missing") }
    // One request at a time, then 16 at once (where group commit shares each durable commit).
    for concurrency in [1, 16] {
        let (plainFound, plainSeconds) = try await time {
            try await concurrently(concurrency, n) { i in try await stores.patients.read(grants[i % grants.count]) != nil }
        }
        let commitsBefore = recorder.commits.statistics
        let (auditedFound, auditedSeconds) = try await time {
            try await concurrently(concurrency, n) { [people] i in
                let (principal, patient) = people[i % people.count]
                let g = try await gate.patientRecord(patient, .read, by: principal, purpose: "self-service", requestID: "bench-\(i)")
                return try await stores.patients.read(g) != nil
            }
        }
        guard plainFound == n, auditedFound == n else { fatalError("reads returned nothing") }
        let commits = recorder.commits.statistics
        let perCommit = Double(commits.entries - commitsBefore.entries) / Double(max(commits.transactions - commitsBefore.transactions, 1))
        let plain = Double(n) / plainSeconds, audited = Double(n) / auditedSeconds
        report("read", "unaudited store read (grant in hand), \(concurrency) at a time", rate(plain), "baseline")
        report("read", "gated, audited read (facts + decide + durable audit append + read), \(concurrency) at a time", rate(audited),
               "\(fmt(audited / plain * 100, 0))% of unaudited, \(fmt(perCommit, 1)) entries per commit "
                + "(store level: the route's goal is measured over HTTP by confide-callbench --read-route)")
    }
    try await stores.system.shutdown()
}

// MARK: - output

var table = "| Area | Measurement | Value | Ratio |\n|---|---|---|---|\n"
for r in rows { table += "| \(r.area) | \(r.measurement) | \(r.value) | \(r.ratio) |\n" }
print("\n" + table)
if allowed == 42 { print("") }  // keeps the decisions observable
if let outPath {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let header = "# Confide benchmarks\n\n\(ISO8601DateFormatter().string(from: Date())), \(cores) cores, release build\(quick ? ", --quick" : "")\n\n"
    try Data((header + table).utf8).write(to: URL(fileURLWithPath: outPath))
}
