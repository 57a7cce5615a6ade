public import ConfideAudit
public import ConfideBreach
import ConfideCore
import ConfidePolicy
public import ConfideStore
public import Foundation

/// What a breach report covers: a closed window `[from, to)`, optionally one resource type and
/// one actor.
public struct BreachReportQuery: Sendable, Hashable {
    public var from: Date
    public var to: Date
    public var resourceType: String?
    /// An account id, or `kind:account` as the log writes actors.
    public var actor: String?

    /// - Throws: `BreachReportError.invalid` for a reversed or empty window or a resource type
    ///   that is not patient data.
    public init(from: Date, to: Date, resourceType: String? = nil, actor: String? = nil) throws {
        guard from < to else { throw BreachReportError.invalid(field: "from", "the window is reversed or empty: from must be before to") }
        if let resourceType, !patientDataKinds.contains(resourceType) {
            throw BreachReportError.invalid(
                field: "resource_type", "\(resourceType) is not patient data; choose one of \(patientDataKinds.sorted().joined(separator: ", "))")
        }
        self.from = from
        self.to = to
        self.resourceType = resourceType
        self.actor = actor
    }
}

/// Why a report did not run. Each is a clear error, never a partial report.
public enum BreachReportError: Error, Sendable, Equatable {
    case invalid(field: String, String)
    /// No account has this id.
    case unknownActor(String)
    /// The audit log does not verify; the message says where it breaks.
    case logDoesNotVerify(String)
    /// The server has no checkpoint key to verify the log with.
    case notConfigured

    public var message: String {
        switch self {
        case .invalid(_, let m): m
        case .unknownActor(let a): "unknown actor \(a): no account has this id"
        case .logDoesNotVerify(let m): m
        case .notConfigured: "the breach report needs the audit signing key, which this server is not configured with"
        }
    }
}

/// The end of a report: the regulator's summary and what the findings were streamed beside.
public struct BreachReportOutcome: Sendable {
    public var summary: BreachSummary
    /// Accesses whose response the egress guard withheld (never left the server, not counted).
    public var withheldByEgressGuard: Int
    public var affectedPatients: [String]
    /// Per affected patient, what was seen (collected only when asked, for the notices).
    public var exposures: [PatientExposure]
    /// Entries in the verified log.
    public var entriesVerified: UInt64
}

/// The breach report (issue 8): verifies the whole audit log, then re-checks every allowed access in
/// the window with the independent relationship check (`BreachChecker`, through the ground-truth
/// chain) and streams each one that fails. Reads across every patient by design, so only the CLI
/// (the system path) and `IncidentService.breachReport` (operators, through the gate) call it.
/// Memory holds one batch of the log and the summary's sets, never the findings.
public struct BreachReporter: Sendable {
    let stores: ConfideStores
    let verifier: CheckpointVerifier
    let origin: String

    public init(stores: ConfideStores, verifier: CheckpointVerifier, origin: String) {
        self.stores = stores
        self.verifier = verifier
        self.origin = origin
    }

    public static let measuresPlaceholder =
        "To be completed by the operator: containment (playback kill switch, suspended accounts), the fix, and notices sent."

    /// Verifies the whole log (streaming).
    /// - Throws: `BreachReportError.logDoesNotVerify` naming the first bad index or checkpoint.
    public func verify() async throws -> AuditVerificationReport {
        let verification = try await AuditCheck.verify(audit: stores.audit, key: verifier, origin: origin)
        guard verification.isValid else {
            var message = "refusing to report: the audit log does not verify"
            if let index = verification.firstBadIndex { message += "; first bad index \(index.rawValue)" }
            if let checkpoint = verification.firstBadCheckpoint { message += "; first bad checkpoint at position \(checkpoint)" }
            if let first = verification.findings.first { message += " (\(first))" }
            throw BreachReportError.logDoesNotVerify(message)
        }
        return verification
    }

    /// Calls `body` with each verified entry whose time is in `[start, end)`, in log order, reading
    /// the log in batches (the report and the scan stream; they never hold the log).
    public func forEachEntry(
        _ verification: AuditVerificationReport, from start: Date, to end: Date, _ body: (UInt64, AuditEntry) async throws -> Void
    ) async throws {
        let (lo, hi) = (start.epochMilliseconds, end.epochMilliseconds)
        var next: UInt64 = 0
        while next < verification.entryCount {
            let batch = try await stores.audit.encodedEntries(from: next, limit: 5_000)
            if batch.isEmpty { break }
            for (offset, raw) in batch.enumerated() {
                let entry = try AuditEntry(encoded: raw)
                if entry.time >= lo && entry.time < hi { try await body(next + UInt64(offset), entry) }
            }
            next += UInt64(batch.count)
        }
    }

    /// The account an actor filter names, or `nil` for no filter.
    /// - Throws: `BreachReportError.unknownActor` when no account has that id.
    public func actorAccount(_ actor: String?) async throws -> String? {
        guard let actor else { return nil }
        let account = actor.split(separator: ":", maxSplits: 1).last.map(String.init) ?? actor
        if actor.hasPrefix("system:") { return account }
        guard try await stores.breach.accountExists(account) else { throw BreachReportError.unknownActor(actor) }
        return account
    }

    /// Runs the report over a verified log, calling `finding` for each access that fails the check,
    /// in log order, and returns the summary.
    public func run(
        _ query: BreachReportQuery, verification: AuditVerificationReport, collectExposures: Bool = false,
        finding onFinding: (BreachFinding) async throws -> Void
    ) async throws -> BreachReportOutcome {
        let actorFilter = try await actorAccount(query.actor)
        let checker = BreachChecker(evidence: stores.breach)
        let iso = ISO8601DateFormatter()
        var tally = BreachTally()
        // Responses the egress guard withheld never left the server: a first pass collects them
        // (their entries follow the gate's within the request, so the pass runs a minute past the end).
        var withheld: Set<String> = []
        try await forEachEntry(verification, from: query.from, to: query.to.addingTimeInterval(60)) { _, entry in
            if entry.purpose == egressGuardPurpose, entry.decision == .denied { withheld.insert(accessKey(entry)) }
        }
        var withheldCount = 0
        var exposures: [String: PatientExposure] = [:]
        try await forEachEntry(verification, from: query.from, to: query.to) { index, entry in
            if let type = query.resourceType, entry.resourceType != type { return }
            if let actorFilter, !entry.actor.hasSuffix(actorFilter) { return }
            tally.examined(entry)
            guard let finding = try await checker.check(entry, index: index) else { return }
            // A withheld response never showed anything; a write it made had already happened.
            if finding.exposure != .changed, withheld.contains(accessKey(entry)) {
                withheldCount += 1
                return
            }
            tally.add(finding)
            if collectExposures { exposures[finding.patient, default: PatientExposure(patient: finding.patient)].add(finding) }
            try await onFinding(finding)
        }
        let summary = tally.summary(from: iso.string(from: query.from), to: iso.string(from: query.to), measures: Self.measuresPlaceholder)
        return BreachReportOutcome(
            summary: summary, withheldByEgressGuard: withheldCount, affectedPatients: tally.affectedPatients,
            exposures: exposures.keys.sorted().compactMap { exposures[$0] }, entriesVerified: verification.entryCount)
    }

    /// Drafts a letter per affected patient and one regulator summary (the system path; operators
    /// review and send them at /clinic/notices).
    public func draftNotices(_ outcome: BreachReportOutcome, query: BreachReportQuery, contact: String, gate: AccessGate, at: Date)
        async throws -> [BreachNoticeRecord]
    {
        guard outcome.summary.findings > 0 else { return [] }
        let (from, to) = (outcome.summary.from, outcome.summary.to)
        let letters = outcome.exposures.map { NoticeDrafter.letter($0, from: from, to: to, contact: contact, time: Self.time) }
        return try await NoticeService.draft(
            letters + [NoticeDrafter.regulatorSummary(outcome.summary, contact: contact)], window: (query.from, query.to), stores: stores,
            gate: gate, at: at, requestID: "breach-report-\(UUID().uuidString.lowercased())")
    }

    /// An entry's time (milliseconds since 1970) as ISO 8601.
    public static func time(_ milliseconds: Int64) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    /// One finding as a CSV row (the header is `csvHeader`).
    public static func csvRow(_ f: BreachFinding) -> String {
        let fields = [
            String(f.index), time(f.time), f.patient, f.recordedPatient ?? "", f.actor, f.action, f.resourceType, f.resourceID,
            f.exposure.rawValue, f.detail ?? "", f.why,
        ]
        return fields.map { $0.contains(",") || $0.contains("\"") ? "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : $0 }
            .joined(separator: ",")
    }

    public static let csvHeader = "index,time,patient,recorded_patient,actor,action,resource_type,resource_id,exposure,detail,why"
}

/// A breach report an operator may run: the gate has allowed it (and recorded the decision), the
/// whole log verified and the filters are valid, so the answer's status is settled before the
/// first finding streams.
public struct PreparedBreachReport: Sendable {
    let reporter: BreachReporter
    let scope: Scope<AuditEntryResource>
    let gate: AccessGate
    let clock: any WallClock
    let requestID: String
    public let query: BreachReportQuery
    public let verification: AuditVerificationReport

    /// Runs the report, handing findings to `emit` in batches of at most `batch`; each batch is
    /// recorded in the audit log (each finding is an audit entry presented to the operator) before
    /// `emit` sees it. With a `contact`, drafts the notices on the system path afterwards.
    public func run(batch: Int = 500, draftContact contact: String? = nil, emit: ([BreachFinding]) async throws -> Void) async throws
        -> (outcome: BreachReportOutcome, drafted: [BreachNoticeRecord])
    {
        var pending: [BreachFinding] = []
        func flush() async throws {
            guard !pending.isEmpty else { return }
            try await gate.recordPresented(
                scope, items: pending.map { (String($0.index), Patient.ID(string: $0.patient)) }, purpose: "breach-report", requestID: requestID)
            try await emit(pending)
            pending.removeAll(keepingCapacity: true)
        }
        let outcome = try await reporter.run(query, verification: verification, collectExposures: contact != nil) { finding in
            pending.append(finding)
            if pending.count >= batch { try await flush() }
        }
        try await flush()
        var drafted: [BreachNoticeRecord] = []
        if let contact {
            drafted = try await reporter.draftNotices(outcome, query: query, contact: contact, gate: gate, at: clock.now())
        }
        return (outcome, drafted)
    }
}

extension IncidentService {
    /// Whether the caller may run the breach report at all (the empty form): operators only; for
    /// anyone else the page is not there. The decision is audited like any other.
    public func breachReportForm(_ r: ClinicRequest) async throws {
        let _: Scope<AuditEntryResource> = try await gate.visibleScope(.search, by: r.principal, purpose: "breach-report", requestID: r.requestID)
    }

    /// Prepares the breach report for an operator: the gate decides (`operator.audit-search.v1`,
    /// purpose `breach-report`; anyone else: not found, and the run is an audit entry either way),
    /// then the whole log is verified and the actor filter checked.
    /// - Throws: `AccessDenied.notFound`, or `BreachReportError` (not configured, log does not
    ///   verify, unknown actor).
    public func prepareBreachReport(_ query: BreachReportQuery, _ r: ClinicRequest) async throws -> PreparedBreachReport {
        let scope: Scope<AuditEntryResource> = try await gate.visibleScope(
            .search, by: r.principal, purpose: "breach-report", requestID: r.requestID)
        guard let reporter else { throw BreachReportError.notConfigured }
        let verification = try await reporter.verify()
        _ = try await reporter.actorAccount(query.actor)
        return PreparedBreachReport(
            reporter: reporter, scope: scope, gate: gate, clock: clock, requestID: r.requestID, query: query, verification: verification)
    }
}
