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
    /// where it breaks), runs `body` with the reporter, and closes the stores.
    static func withVerifiedLog(
        _ database: DatabaseOptions, _ body: (ConfideStores, BreachReporter, AuditVerificationReport) async throws -> Void
    ) async throws {
        let configuration = try resolveConfiguration(database.flags(), requireSecret: false)
        let key: AuditSigningKey
        do { key = try configuration.auditSigningKey() } catch let error as ConfigurationError { throw fail(error.description) }
        let stores = try await openStores(configuration.database, dataDir: configuration.dataDir, logger: makeLogger())
        do {
            let reporter = BreachReporter(stores: stores, verifier: key.signer.verifier, origin: key.origin)
            let verification: AuditVerificationReport
            do { verification = try await reporter.verify() } catch let error as BreachReportError { throw fail(error.message) }
            try await body(stores, reporter, verification)
        } catch {
            try? await stores.system.shutdown()
            throw error
        }
        try await stores.system.shutdown()
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
            try await Breach.withVerifiedLog(database) { stores, reporter, verification in
                var detector = SpreeDetector(rule: rule)
                var touched = 0
                var found = 0
                try await reporter.forEachEntry(verification, from: start, to: end) { index, entry in
                    if canaries.touches(entry) {
                        touched += 1
                        print(
                            "#\(index) \(BreachReporter.time(entry.time)) CANARY \(entry.patientID ?? "-") touched by \(entry.actor): "
                                + "\(entry.action) \(entry.resourceType) \(entry.resourceID)")
                    }
                    guard let spree = detector.add(entry, index: index) else { return }
                    found += 1
                    print(
                        "#\(spree.index) \(BreachReporter.time(spree.to)) \(spree.actor) opened records of \(spree.patients) distinct patients "
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
            let query: BreachReportQuery
            do {
                query = try BreachReportQuery(
                    from: try Self.instant(from, "from"), to: try Self.instant(to, "to"), resourceType: resourceType, actor: actor)
            } catch let error as BreachReportError {
                throw fail(error.message)
            }
            if json && csv { throw fail("choose one of --json and --csv") }
            if draftNotices, (contact ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
                throw fail("--draft-notices needs --contact: whom the letters tell people to contact")
            }
            try await Breach.withVerifiedLog(database) { stores, reporter, verification in
                do {
                    try await report(stores, reporter, verification: verification, query: query)
                } catch let error as BreachReportError { throw fail(error.message) }
            }
        }

        func report(_ stores: ConfideStores, _ reporter: BreachReporter, verification: AuditVerificationReport, query: BreachReportQuery)
            async throws
        {
            // The actor filter must name someone who exists (before any output).
            _ = try await reporter.actorFilter(query.actor)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            var first = true
            let iso = ISO8601DateFormatter()
            if json { print(#"{"window":{"from":"\#(iso.string(from: query.from))","to":"\#(iso.string(from: query.to))"},"findings":["#) }
            if csv { print(BreachReporter.csvHeader) }
            let outcome = try await reporter.run(query, verification: verification, collectExposures: draftNotices) { finding in
                if json {
                    print((first ? "" : ",") + String(decoding: try encoder.encode(finding), as: UTF8.self))
                    first = false
                } else if csv {
                    print(BreachReporter.csvRow(finding))
                } else {
                    print(
                        "#\(finding.index) \(BreachReporter.time(finding.time)) \(finding.actor) \(finding.exposure.rawValue) \(finding.resourceType) "
                            + "\(finding.resourceID) of patient \(finding.patient)\(finding.detail.map { " [\($0)]" } ?? ""): \(finding.why)")
                }
            }
            let summary = outcome.summary
            // The run is itself an audit entry (a search across patients, by the system path).
            try await Breach.auditRun(stores, "breach-report")
            var drafted: [BreachNoticeRecord] = []
            if draftNotices, let contact {
                let gate = AccessGate(facts: stores.facts, recorder: AuditLogRecorder(store: stores.audit, clock: SystemWallClock()))
                drafted = try await reporter.draftNotices(
                    outcome, query: query, contact: contact, gate: gate, at: Date(), requestID: "breach-report-\(UUID().uuidString.lowercased())")
            }
            if json {
                let s = String(decoding: try encoder.encode(summary), as: UTF8.self)
                let patients = String(decoding: try encoder.encode(outcome.affectedPatients), as: UTF8.self)
                let notices = drafted.map { #"{"id":"\#($0.id)","kind":"\#($0.kind.rawValue)","patient":\#($0.patient.map { "\"\($0)\"" } ?? "null")}"# }
                print(
                    #"],"summary":\#(s),"affected_patients":\#(patients),"withheld_by_egress_guard":\#(outcome.withheldByEgressGuard),"#
                        + #""notices_drafted":[\#(notices.joined(separator: ","))],"log_entries_verified":\#(verification.entryCount)}"#)
                return
            }
            func say(_ line: String) {
                if csv { FileHandle.standardError.write(Data((line + "\n").utf8)) } else { print(line) }
            }
            say("Audit log verified: \(verification.entryCount) entries, \(verification.checkpointCount) checkpoints.")
            say("Window \(summary.from) to \(summary.to): \(summary.entriesExamined) entries, \(summary.accessesChecked) accesses to patient data checked.")
            say("Findings: \(summary.findings); patients affected: \(summary.patientsAffected) (data opened or played for \(summary.patientsWhoseDataWasOpened)); records: \(summary.recordsConcerned); actors: \(summary.actors).")
            say("Nature: \(summary.nature)")
            say("Likely consequences: \(summary.likelyConsequences)")
            say("Measures taken: \(summary.measuresTaken)")
            say("Withheld by the egress guard (never left the server, not counted above): \(outcome.withheldByEgressGuard).")
            if !outcome.affectedPatients.isEmpty { say("Affected patients: \(outcome.affectedPatients.joined(separator: " "))") }
            if draftNotices {
                say("Notices drafted: \(drafted.count) (\(drafted.filter { $0.kind == .patient }.count) letters and \(drafted.isEmpty ? 0 : 1) regulator summary), to review and send at /clinic/notices.")
            }
        }
    }
}
