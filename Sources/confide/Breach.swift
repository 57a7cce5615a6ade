import ArgumentParser
import ConfideAccounts
import ConfideAudit
import ConfideBreach
import ConfideClinic
import ConfideCore
import ConfidePolicy
import ConfideServer
import ConfideStore
import Foundation

struct Breach: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Breach response: who was affected, and what exactly they saw, from the audit log.",
        subcommands: [Report.self, Scan.self])

    /// Opens the stores, verifies the whole audit log (refusing a log that does not verify, naming
    /// where it breaks), runs `body`, and closes the stores.
    static func withVerifiedLog(
        _ database: DatabaseOptions, _ body: (ConfideStores, AuditVerificationReport) async throws -> Void
    ) async throws {
        let configuration = try resolveConfiguration(database.flags(), requireSecret: false)
        let key: AuditSigningKey
        do { key = try configuration.auditSigningKey() } catch let error as ConfigurationError { throw fail(error.description) }
        let stores = try await openStores(configuration.database, dataDir: configuration.dataDir, logger: makeLogger())
        do {
            let verification = try await AuditCheck.verify(audit: stores.audit, key: key.signer.verifier, origin: key.origin)
            guard verification.isValid else {
                var message = "refusing to report: the audit log does not verify"
                if let index = verification.firstBadIndex { message += "; first bad index \(index.rawValue)" }
                if let checkpoint = verification.firstBadCheckpoint { message += "; first bad checkpoint at position \(checkpoint)" }
                if let first = verification.findings.first { message += " (\(first))" }
                throw fail(message)
            }
            try await body(stores, verification)
        } catch {
            try? await stores.system.shutdown()
            throw error
        }
        try await stores.system.shutdown()
    }

    /// Calls `body` with each verified entry whose time is in `[start, end)`, in log order, reading
    /// the log in batches (the report and the scan stream; they never hold the log).
    static func forEachEntry(
        _ stores: ConfideStores, _ verification: AuditVerificationReport, from start: Date, to end: Date,
        _ body: (UInt64, AuditEntry) async throws -> Void
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

    /// An entry's time (milliseconds since 1970) as ISO 8601.
    static func time(_ milliseconds: Int64) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    /// Appends the run's own audit entry.
    static func auditRun(_ stores: ConfideStores, _ what: String) async throws {
        _ = try await stores.audit.append([
            try AuditEntry(
                at: Date(), principal: .system(job: what), action: "search", resourceType: "audit-entry", resourceID: "-",
                patientID: nil, decision: .allowed, ruleIDs: [], requestID: "\(what)-\(UUID().uuidString.lowercased())", purpose: what)
        ])
    }

    struct Scan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Detection: principals who opened or played the records of more distinct patients in an hour than their role's limit.",
            discussion: """
                Lists presented do not count, only reads and playbacks. Default limits: patient 1, clinician 40, practice admin 0,
                operator 0, per sliding hour. The log is verified first; the run is an audit entry.
                """)
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Start of the window (inclusive).")
        var from: String?
        @Option(help: "End of the window (exclusive).")
        var to: String?
        @Option(help: "A limit for a kind of actor, kind=N (patient, clinician, practice-admin, admin); repeatable.")
        var limit: [String] = []
        @Option(help: "The sliding window in minutes.")
        var windowMinutes: Int = 60
        @Option(help: "A canary patient id (a synthetic record nobody has a reason to touch); any access to it is reported. Repeatable.")
        var canary: [String] = []

        func run() async throws {
            let start = try Report.instant(from, "from")
            let end = try Report.instant(to, "to")
            guard start < end else { throw fail("the window is reversed or empty: --from must be before --to") }
            guard (1...10_080).contains(windowMinutes) else { throw fail("--window-minutes must be between 1 and 10080") }
            var rule = SpreeRule.defaults
            rule.windowMilliseconds = Int64(windowMinutes) * 60_000
            for item in limit {
                let parts = item.split(separator: "=").map(String.init)
                guard parts.count == 2, rule.limits[parts[0]] != nil || parts[0] == "system", let n = Int(parts[1]), n >= 0 else {
                    throw fail("--limit \(item): use kind=N with kind one of patient, clinician, practice-admin, admin")
                }
                rule.limits[parts[0]] = n
            }
            for id in canary where Patient.ID(string: id) == nil { throw fail("--canary \(id) is not a patient id") }
            let canaries = CanaryWatch(canaries: Set(canary.map { $0.lowercased() }))
            try await Breach.withVerifiedLog(database) { stores, verification in
                var detector = SpreeDetector(rule: rule)
                var touched = 0
                var found = 0
                try await Breach.forEachEntry(stores, verification, from: start, to: end) { index, entry in
                    if canaries.touches(entry) {
                        touched += 1
                        print(
                            "#\(index) \(Breach.time(entry.time)) CANARY \(entry.patientID ?? "-") touched by \(entry.actor): "
                                + "\(entry.action) \(entry.resourceType) \(entry.resourceID)")
                    }
                    guard let spree = detector.add(entry, index: index) else { return }
                    found += 1
                    print(
                        "#\(spree.index) \(Breach.time(spree.to)) \(spree.actor) opened records of \(spree.patients) distinct patients "
                            + "within \(windowMinutes) minutes (limit \(spree.limit))")
                }
                try await Breach.auditRun(stores, "breach-scan")
                print("Audit log verified: \(verification.entryCount) entries. Principals over their limit: \(found). Canary accesses: \(touched).")
            }
        }
    }

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-check every access in a time window with an independent relationship check and list the ones that fail.",
            discussion: """
                The audit log is verified first: a log that does not verify is refused, naming where it breaks. Then every allowed
                access to patient data in [--from, --to) is re-checked against the ground truth (a recording's patient is its
                consultation's patient), without the policy engine's code. Each access that fails is listed: whose data, who saw
                it, what, when, and whether it was presented in a list, opened, or played (with byte ranges). The report streams
                (text, --csv or --json), ends with a summary for the regulator, and the run itself is an audit entry.
                Reads across every patient by design: run it as an operator, on the server's own database options.
                """)

        @OptionGroup var database: DatabaseOptions
        @Option(help: "Start of the window (inclusive): 2026-11-26T09:00:00Z or 2026-11-26.")
        var from: String?
        @Option(help: "End of the window (exclusive).")
        var to: String?
        @Option(help: "Only this resource type (recording, consultation, note, ...).")
        var resourceType: String?
        @Option(help: "Only this actor: an account id, or kind:account as in the log (patient:..., clinician:...).")
        var actor: String?
        @Flag(help: "One JSON object: findings, summary, affected patients.")
        var json = false
        @Flag(help: "CSV rows, one per finding (the summary goes to standard error).")
        var csv = false
        @Flag(help: "Draft a notice per affected patient and a regulator summary, for operators to review and send at /clinic/notices.")
        var draftNotices = false
        @Option(help: "Whom the notices tell people to contact (required with --draft-notices), e.g. \"Our Data Protection Officer, dpo@example.org\".")
        var contact: String?

        static func instant(_ raw: String?, _ name: String) throws -> Date {
            guard let raw, !raw.isEmpty else { throw fail("give --\(name): the report needs a closed window (--from and --to)") }
            let full = ISO8601DateFormatter()
            if let d = full.date(from: raw) { return d }
            let day = ISO8601DateFormatter()
            day.formatOptions = [.withFullDate]
            if let d = day.date(from: raw) { return d }
            throw fail("--\(name) \(raw) is not a time: use 2026-11-26T09:00:00Z or 2026-11-26")
        }

        func run() async throws {
            let start = try Self.instant(from, "from")
            let end = try Self.instant(to, "to")
            guard start < end else { throw fail("the window is reversed or empty: --from must be before --to") }
            if json && csv { throw fail("choose one of --json and --csv") }
            if draftNotices, (contact ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
                throw fail("--draft-notices needs --contact: whom the letters tell people to contact")
            }
            if let type = resourceType, !patientDataKinds.contains(type) {
                throw fail("--resource-type \(type) is not patient data; choose one of \(patientDataKinds.sorted().joined(separator: ", "))")
            }
            try await Breach.withVerifiedLog(database) { stores, verification in
                try await report(stores, verification: verification, start: start, end: end)
            }
        }

        func report(_ stores: ConfideStores, verification: AuditVerificationReport, start: Date, end: Date) async throws {
            // The actor filter must name someone who exists.
            var actorFilter: String?
            if let actor {
                let account = actor.split(separator: ":", maxSplits: 1).last.map(String.init) ?? actor
                let exists = actor.hasPrefix("system:") ? true : try await stores.breach.accountExists(account)
                guard exists else {
                    throw fail("unknown actor \(actor): no account has this id")
                }
                actorFilter = account
            }
            let checker = BreachChecker(evidence: stores.breach)
            let iso = ISO8601DateFormatter()
            let window = (from: iso.string(from: start), to: iso.string(from: end))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            var tally = BreachTally()
            var first = true
            // Responses the egress guard withheld never left the server: a first pass collects them
            // (their entries follow the gate's within the request, so the pass runs a minute past the end).
            var withheld: Set<String> = []
            try await Breach.forEachEntry(stores, verification, from: start, to: end.addingTimeInterval(60)) { _, entry in
                if entry.purpose == egressGuardPurpose, entry.decision == .denied { withheld.insert(accessKey(entry)) }
            }
            var withheldCount = 0
            var exposures: [String: PatientExposure] = [:]
            if json { print(#"{"window":{"from":"\#(window.from)","to":"\#(window.to)"},"findings":["#) }
            if csv { print("index,time,patient,recorded_patient,actor,action,resource_type,resource_id,exposure,detail,why") }
            try await Breach.forEachEntry(stores, verification, from: start, to: end) { index, entry in
                if let type = resourceType, entry.resourceType != type { return }
                if let actorFilter, !entry.actor.hasSuffix(actorFilter) { return }
                tally.examined(entry)
                guard let finding = try await checker.check(entry, index: index) else { return }
                // A withheld response never showed anything; a write it made had already happened.
                if finding.exposure != .changed, withheld.contains(accessKey(entry)) {
                    withheldCount += 1
                    return
                }
                tally.add(finding)
                if draftNotices { exposures[finding.patient, default: PatientExposure(patient: finding.patient)].add(finding) }
                if json {
                    print((first ? "" : ",") + String(decoding: try encoder.encode(finding), as: UTF8.self))
                    first = false
                } else if csv {
                    let fields = [
                        String(finding.index), Breach.time(finding.time), finding.patient, finding.recordedPatient ?? "", finding.actor,
                        finding.action, finding.resourceType, finding.resourceID, finding.exposure.rawValue, finding.detail ?? "", finding.why,
                    ]
                    print(fields.map { $0.contains(",") || $0.contains("\"") ? "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : $0 }.joined(separator: ","))
                } else {
                    print(
                        "#\(finding.index) \(Breach.time(finding.time)) \(finding.actor) \(finding.exposure.rawValue) \(finding.resourceType) "
                            + "\(finding.resourceID) of patient \(finding.patient)\(finding.detail.map { " [\($0)]" } ?? ""): \(finding.why)")
                }
            }
            let summary = tally.summary(
                from: window.from, to: window.to,
                measures: "To be completed by the operator: containment (playback kill switch, suspended accounts), the fix, and notices sent.")
            // The run is itself an audit entry (a search across patients, by the system path).
            try await Breach.auditRun(stores, "breach-report")
            var drafted: [BreachNoticeRecord] = []
            if draftNotices, let contact, summary.findings > 0 {
                let letters = exposures.keys.sorted().compactMap { exposures[$0] }.map {
                    NoticeDrafter.letter($0, from: window.from, to: window.to, contact: contact, time: Breach.time)
                }
                let gate = AccessGate(facts: stores.facts, recorder: AuditLogRecorder(store: stores.audit, clock: SystemWallClock()))
                drafted = try await NoticeService.draft(
                    letters + [NoticeDrafter.regulatorSummary(summary, contact: contact)], window: (start, end), stores: stores, gate: gate,
                    at: Date(), requestID: "breach-report-\(UUID().uuidString.lowercased())")
            }
            if json {
                let s = String(decoding: try encoder.encode(summary), as: UTF8.self)
                let patients = String(decoding: try encoder.encode(tally.affectedPatients), as: UTF8.self)
                let notices = drafted.map { #"{"id":"\#($0.id)","kind":"\#($0.kind.rawValue)","patient":\#($0.patient.map { "\"\($0)\"" } ?? "null")}"# }
                print(
                    #"],"summary":\#(s),"affected_patients":\#(patients),"withheld_by_egress_guard":\#(withheldCount),"#
                        + #""notices_drafted":[\#(notices.joined(separator: ","))],"log_entries_verified":\#(verification.entryCount)}"#)
                return
            }
            func say(_ line: String) {
                if csv { FileHandle.standardError.write(Data((line + "\n").utf8)) } else { print(line) }
            }
            say("Audit log verified: \(verification.entryCount) entries, \(verification.checkpointCount) checkpoints.")
            say("Window \(window.from) to \(window.to): \(summary.entriesExamined) entries, \(summary.accessesChecked) accesses to patient data checked.")
            say("Findings: \(summary.findings); patients affected: \(summary.patientsAffected) (data opened or played for \(summary.patientsWhoseDataWasOpened)); records: \(summary.recordsConcerned); actors: \(summary.actors).")
            say("Nature: \(summary.nature)")
            say("Likely consequences: \(summary.likelyConsequences)")
            say("Measures taken: \(summary.measuresTaken)")
            say("Withheld by the egress guard (never left the server, not counted above): \(withheldCount).")
            if !tally.affectedPatients.isEmpty { say("Affected patients: \(tally.affectedPatients.joined(separator: " "))") }
            if draftNotices {
                say("Notices drafted: \(drafted.count) (\(drafted.filter { $0.kind == .patient }.count) letters and \(drafted.isEmpty ? 0 : 1) regulator summary), to review and send at /clinic/notices.")
            }
        }
    }
}
