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
            // Only the verified entries: appends since (live traffic, the report's own entries) are not read.
            let batch = try await stores.audit.encodedEntries(from: next, limit: Int(min(5_000, verification.entryCount - next)))
            if batch.isEmpty { break }
            for (offset, raw) in batch.enumerated() {
                let entry = try AuditEntry(encoded: raw)
                if entry.time >= lo && entry.time < hi { try await body(next + UInt64(offset), entry) }
            }
            next += UInt64(batch.count)
        }
    }

    /// An actor filter: an account id, or `kind:account` as the log writes actors.
    public struct ActorFilter: Sendable, Hashable {
        public var kind: String?
        public var account: String

        /// Whether an entry's actor (`kind:account`) is this one: the account exactly, and the
        /// kind too when the filter names one.
        public func matches(_ actor: String) -> Bool {
            let parts = actor.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { return false }
            return parts[1] == account && (kind == nil || parts[0] == kind)
        }
    }

    /// The filter an actor option names, or `nil` for no filter.
    /// - Throws: `BreachReportError.unknownActor` when no account has that id (a `system:` job is
    ///   taken as written).
    public func actorFilter(_ actor: String?) async throws -> ActorFilter? {
        guard let actor else { return nil }
        let parts = actor.split(separator: ":", maxSplits: 1).map(String.init)
        let filter = parts.count == 2 ? ActorFilter(kind: parts[0], account: parts[1]) : ActorFilter(kind: nil, account: actor)
        if filter.kind == "system" { return filter }
        guard !filter.account.isEmpty, try await stores.breach.accountExists(filter.account) else { throw BreachReportError.unknownActor(actor) }
        return filter
    }

    /// Runs the report over a verified log, calling `finding` for each access that fails the check,
    /// in log order, and returns the summary.
    public func run(
        _ query: BreachReportQuery, verification: AuditVerificationReport, collectExposures: Bool = false,
        finding onFinding: (BreachFinding) async throws -> Void
    ) async throws -> BreachReportOutcome {
        let actorFilter = try await actorFilter(query.actor)
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
            if let actorFilter, !actorFilter.matches(entry.actor) { return }
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
    public func draftNotices(
        _ outcome: BreachReportOutcome, query: BreachReportQuery, contact: String, gate: AccessGate, at: Date, requestID: String
    ) async throws -> [BreachNoticeRecord] {
        guard outcome.summary.findings > 0 else { return [] }
        let (from, to) = (outcome.summary.from, outcome.summary.to)
        let letters = outcome.exposures.map { NoticeDrafter.letter($0, from: from, to: to, contact: contact, time: Self.time) }
        return try await NoticeService.draft(
            letters + [NoticeDrafter.regulatorSummary(outcome.summary, contact: contact)], window: (query.from, query.to), stores: stores,
            gate: gate, at: at, requestID: requestID)
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
        return fields.map(csvField).joined(separator: ",")
    }

    /// One CSV field: quoted when it holds a comma, quote or line break; a value a spreadsheet would
    /// take for a formula (leading `=`, `+`, `-`, `@`, tab) is prefixed with `'`.
    public static func csvField(_ raw: String) -> String {
        var value = raw
        if let first = value.first, "=+-@\t".contains(first) { value = "'" + value }
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
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
    /// `present` is how many findings the caller shows (all for a download, the first page for the
    /// page, none for drafting): exactly those are recorded as presented.
    public func run(
        batch: Int = 500, present: Int = .max, draftContact contact: String? = nil, emit: ([BreachFinding]) async throws -> Void
    ) async throws -> (outcome: BreachReportOutcome, drafted: [BreachNoticeRecord]) {
        var pending: [BreachFinding] = []
        var presented = 0
        func flush() async throws {
            guard !pending.isEmpty else { return }
            let shown = pending.prefix(max(0, present - presented))
            try await gate.recordPresented(
                scope, items: shown.map { (String($0.index), Patient.ID(string: $0.patient)) }, purpose: "breach-report", requestID: requestID)
            presented += shown.count
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
            drafted = try await reporter.draftNotices(outcome, query: query, contact: contact, gate: gate, at: clock.now(), requestID: requestID)
        }
        return (outcome, drafted)
    }
}

/// The gate's answer that the caller may run the breach report (only `IncidentService` mints one).
public struct BreachReportAuthorization: Sendable {
    let scope: Scope<AuditEntryResource>
    let requestID: String
    /// The operator's account, whose runs are counted (`breachReportsPerHour`).
    let account: String
}

extension IncidentService {
    /// Asks the gate whether the caller may run the breach report: `search` on `audit-entry`, purpose
    /// `breach-report`, which only operators (`operator.audit-search.v1`) pass. Callers ask before
    /// they look at any input, so for anyone else the report is simply not there; the decision is
    /// the run's audit entry either way.
    /// - Throws: `AccessDenied.notFound` for anyone but an operator.
    public func authorizeBreachReport(_ r: ClinicRequest) async throws -> BreachReportAuthorization {
        BreachReportAuthorization(
            scope: try await gate.visibleScope(.search, by: r.principal, purpose: "breach-report", requestID: r.requestID), requestID: r.requestID,
            account: r.principal.account?.description ?? "")
    }

    /// Prepares an authorized report: the whole log is verified and the actor filter checked, so
    /// the answer's status is settled before the first finding. Each run verifies the whole log, so
    /// one operator may start `breachReportsPerHour` an hour, counted in the database (across server
    /// instances): a stolen operator session cannot keep the database busy with it.
    /// - Throws: `BreachReportError` (not configured, log does not verify, unknown actor);
    ///   `ClinicError(.tooManyRequests)` past the hour's runs.
    public func prepareBreachReport(_ query: BreachReportQuery, _ authorization: BreachReportAuthorization) async throws
        -> PreparedBreachReport
    {
        guard let reporter else { throw BreachReportError.notConfigured }
        let now = clock.now()
        let key = "breach-report:" + authorization.account
        try await stores.credentials.recordLoginFailure(key: key, attempt: nil, at: now)
        guard try await stores.credentials.loginFailures(key: key, since: now.addingTimeInterval(-3600)) <= breachReportsPerHour else {
            throw ClinicError(.tooManyRequests, "at most \(breachReportsPerHour) breach reports an hour can be run; try again later")
        }
        let verification = try await reporter.verify()
        _ = try await reporter.actorFilter(query.actor)
        return PreparedBreachReport(
            reporter: reporter, scope: authorization.scope, gate: gate, clock: clock, requestID: authorization.requestID, query: query,
            verification: verification)
    }
}
