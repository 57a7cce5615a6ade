public import ConfideCore
import ConfidePolicy
public import ConfideStore
public import ConfideTriage
public import Foundation

/// A question as the patient sees it: a yes/no question about one finding, or (`describe`) a request
/// to say in their own words what the problem is, when the opening message named none (C25).
public struct TriageQuestion: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case yesNo = "yes_no"
        case describe
    }
    public var id: String
    public var text: String
    public var kind: Kind

    public init(id: String, text: String, kind: Kind = .yesNo) {
        self.id = id
        self.text = text
        self.kind = kind
    }
}

/// One answered question.
public struct TriageAnswer: Sendable, Hashable, Codable {
    public var finding: String
    public var question: String
    public var answer: Answer
}

/// A finding read from the opening message ("no fever" is `present: false`).
public struct TriageUnderstood: Sendable, Hashable, Codable {
    public var finding: String
    public var name: String
    public var present: Bool
    /// The patient corrected this reading (the clinician sees that too).
    public var corrected: Bool = false
}

/// A patient's correction of one item the checker read from their opening message (C18).
public enum TriageReading: String, Sendable, CaseIterable {
    /// "I do have this" (it was read as absent).
    case present
    /// "I don't have this" (it was read as present).
    case absent
    /// "I didn't say this": the item is removed, so it may be asked as a question later.
    case notMentioned = "not_mentioned"
}

/// The end of a conversation: what to do, with the conditions that can cause such symptoms (never
/// called a diagnosis), why each moved, and the red flags that fired.
public struct TriageOutcome: Sendable, Hashable, Codable {
    public var disposition: Urgency
    public var advice: Advice
    public var conditions: [RankedCondition]
    public var redFlags: [FiredRule]
    public var stopReason: StopReason
    public var questionsAsked: Int

    enum CodingKeys: String, CodingKey {
        case disposition, advice, conditions
        case redFlags = "red_flags"
        case stopReason = "stop_reason"
        case questionsAsked = "questions_asked"
    }
}

/// A session as the API and the pages show it.
public struct TriageView: Sendable, Hashable {
    public var id: String
    public var patient: Patient.ID
    public var status: TriageSessionRecord.Status
    public var country: String
    public var age: Int
    public var sex: String
    public var complaint: String
    public var understood: [TriageUnderstood]
    public var answers: [TriageAnswer]
    public var question: TriageQuestion?
    public var outcome: TriageOutcome?
    public var consultation: Consultation.ID?
    public var knowledgeVersion: String
    public var version: Int
    public var createdAt: Date
    public var services: LocalServices
    /// Crisis signposting while the questions go on (C20): set once the patient has reported
    /// suicidal thoughts, self-harm or an overdose; the result carries it too.
    public var crisis: String? = nil
    /// Names of items the patient removed from the read-back ("I didn't say this"), for the clinician.
    public var removed: [String] = []
    /// What the patient added in their own words after the opening message, in order.
    public var details: [String] = []
}

/// The stored conversation: the opening evidence and each answer, in order.
struct TriageState: Codable {
    var opening: [Evidence]
    var answers: [TriageAnswer]
    var pending: String?
    /// Whole months of age at the start, for children under 2 (rules about young babies use it).
    /// Absent in sessions from before it was kept: the engine then takes the safe side.
    var ageMonths: Int? = nil
    /// Opening findings the patient corrected (flipped or removed), in the order corrected.
    var corrected: [String]? = nil
    /// The patient was asked to describe the problem (C25), and described it or chose questions.
    var described: Bool? = nil
    /// What the patient added in their own words, in order; its findings joined `opening`.
    var details: [String]? = nil

    var evidence: [Evidence] {
        opening + answers.compactMap { a in a.answer == .unknown ? nil : Evidence(finding: a.finding, present: a.answer == .yes) }
    }
}

/// The symptom checker as a patient uses it: start with a complaint, answer, go back, finish, attach
/// the result to a booking. Sessions are patient data: every read and write passes the gate.
public struct TriageService: Sendable {
    let store: any TriageStore
    let stores: ConfideStores
    let gate: AccessGate
    let clock: any WallClock
    public let engine: TriageEngine

    public static let maxComplaintLength = 2000
    /// The pending "question" that asks the patient to describe the problem in their own words.
    public static let describeQuestion = "describe"
    /// Messages a patient may add to one conversation after the opening one.
    public static let maxDetails = 10

    public init(stores: ConfideStores, gate: AccessGate, clock: any WallClock, engine: TriageEngine) {
        self.store = stores.triage
        self.stores = stores
        self.gate = gate
        self.clock = clock
        self.engine = engine
    }

    /// Starts a session for the signed-in patient. Age comes from their record, the country from
    /// their registered practice (or `country` when they have none); `sex` is asked on the page.
    public func start(complaint raw: String, sex rawSex: String, country rawCountry: String?, _ r: ClinicRequest) async throws -> TriageView {
        guard case .patient(_, let patient) = r.principal else { throw AccessDenied.notFound }
        let complaint = try ClinicService.text(raw, field: "complaint", max: Self.maxComplaintLength)
        guard let sex = Sex(rawValue: rawSex) else {
            throw ClinicError(ValidationError(.invalidValue, field: "sex", message: "choose female or male (used only to weigh how common conditions are)"))
        }
        // The patient's own record, for the age (an audited read like any other).
        let recordGrant: Grant<PatientRecordResource> = try await gate.authorize(
            .read, patient.description, facts: try await stores.clinicFacts.patientRecordFacts(patient, for: r.principal), by: r.principal,
            purpose: "triage", requestID: r.requestID)
        guard let record = try await stores.patients.read(recordGrant) else { throw AccessDenied.notFound }
        let now = clock.now()
        let utc = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: now)
        let today = CalendarDate(year: utc.year ?? 2000, month: utc.month ?? 1, day: utc.day ?? 1) ?? record.birthDate
        let age = record.birthDate.age(on: today)
        let months = record.birthDate.ageInMonths(on: today)
        var practice: Practice.ID?
        var country: String
        if let registered = try await stores.clinic.registeredPractice(patient: patient),
            let p = try await stores.clinic.practice(id: registered)
        {
            practice = registered
            country = p.country.description
        } else if let rawCountry {
            do { country = try CountryCode(rawCountry).description } catch { throw ClinicError(error) }
        } else {
            throw ClinicError(ValidationError(.invalidCountry, field: "country", message: "choose the country you are in, or register with a practice"))
        }
        let id = UUID().uuidString.lowercased()
        let facts = ResourceFacts(resourceID: id, owningPatient: patient, serverAssignedOwner: true)
        let write: AuditedWrite<TriageSessionResource> = try await gate.authorizeWrite(
            .create, id, facts: facts, by: r.principal, purpose: "triage", requestID: r.requestID)
        var state = TriageState(opening: engine.extract(complaint), answers: [], pending: nil, ageMonths: months < 24 ? months : nil)
        let profile = TriageProfile(age: age, sex: sex, ageMonths: state.ageMonths)
        let (status, disposition, result) = advance(&state, profile: profile, country: country, finished: false)
        let session = TriageSessionRecord(
            id: id, patient: patient, practice: practice, country: country, age: age, sex: sex.rawValue, complaint: complaint,
            state: try encode(state), status: status, disposition: disposition, result: result, knowledgeVersion: engine.knowledge.version,
            consultation: nil, version: 1, createdAt: now, updatedAt: now)
        try await store.createTriageSession(session, write: write)
        return try view(session)
    }

    /// One session (the patient's own; the clinician of the consultation it is attached to; a consented care team).
    public func session(_ id: String, _ r: ClinicRequest) async throws -> TriageView {
        let grant: Grant<TriageSessionResource> = try await gate.authorize(
            .read, id, facts: try await store.triageSessionFacts(id, for: r.principal), by: r.principal, purpose: "triage", requestID: r.requestID)
        guard let session = try await store.triageSession(grant) else { throw AccessDenied.notFound }
        return try view(session)
    }

    /// The caller's sessions in scope, newest first; each one presented is audited.
    public func sessions(consultation: Consultation.ID? = nil, limit: Int = 50, _ r: ClinicRequest) async throws -> [TriageView] {
        let scope: Scope<TriageSessionResource> = try await gate.scope(by: r.principal, purpose: "triage", requestID: r.requestID)
        let list = try await store.triageSessions(scope, consultation: consultation, limit: limit)
        try await gate.recordPresented(scope, items: list.map { ($0.id, $0.patient) }, purpose: "triage", requestID: r.requestID)
        return try list.map(view)
    }

    /// Answers the pending question. An answer to any other finding is refused (`not-asked`).
    public func answer(_ id: String, finding: String, answer: Answer, version: Int?, _ r: ClinicRequest) async throws -> TriageView {
        guard engine.knowledge.finding(finding) != nil else {
            throw ClinicError(ValidationError(.invalidValue, field: "question", message: "no such question"))
        }
        return try await change(id, version: version, r) { state, _ in
            guard state.pending == finding else {
                throw ClinicError(.notAsked, "that question is not the one being asked now; reload the conversation")
            }
            state.answers.append(
                TriageAnswer(finding: finding, question: engine.knowledge.finding(finding)?.question ?? finding, answer: answer))
            return false
        }
    }

    /// Adds what the patient says in their own words while the conversation is open: asked for when
    /// the opening named no problem (C25), or at any time. Its findings join those read from the
    /// opening, and only ever go up: one read or answered as absent that the message reports present
    /// becomes present; nothing the patient said is taken back (a correction does that). `text: nil`
    /// declines the request to describe
    /// ("ask me questions instead"), which is refused unless that request is pending.
    public func describe(_ id: String, text raw: String?, version: Int?, _ r: ClinicRequest) async throws -> TriageView {
        let text = try raw.map { raw throws(ClinicError) in try ClinicService.text(raw, field: "text", max: Self.maxComplaintLength) }
        return try await change(id, version: version, r) { state, _ in
            if let text {
                guard (state.details ?? []).count < Self.maxDetails else {
                    throw ClinicError(.transitionNotAllowed, "this conversation has all the messages it can take; answer the questions or finish")
                }
                state.details = (state.details ?? []) + [text]
                let told = engine.extract(text)
                // A finding only goes up: a "no" answer that the message now reports present becomes
                // "yes"; one answered either way is otherwise left as answered.
                for item in told where item.present {
                    for i in state.answers.indices where state.answers[i].finding == item.finding && state.answers[i].answer == .no {
                        state.answers[i].answer = .yes
                    }
                }
                let answered = Set(state.answers.filter { $0.answer != .unknown }.map(\.finding))
                let before = state.opening
                state.opening = TriageEngine.adding(told.filter { !answered.contains($0.finding) }, to: state.opening)
                // An item read as absent that the message reports present shows as corrected.
                for item in state.opening where item.present && before.contains(Evidence(finding: item.finding, present: false)) {
                    if !(state.corrected ?? []).contains(item.finding) { state.corrected = (state.corrected ?? []) + [item.finding] }
                }
            } else {
                guard state.pending == Self.describeQuestion else {
                    throw ClinicError(.notAsked, "the checker is not asking you to describe the problem now; reload the conversation")
                }
            }
            state.described = true
            return false
        }
    }

    /// Corrects one item of the read-back while the conversation is open: flips a finding read the
    /// wrong way round, or removes one the patient did not mention. The engine then goes on from the
    /// corrected evidence (a red flag the correction completes ends the conversation as usual).
    public func correct(_ id: String, finding: String, reading: TriageReading, version: Int?, _ r: ClinicRequest) async throws -> TriageView {
        try await change(id, version: version, r) { state, profile in
            guard let i = state.opening.firstIndex(where: { $0.finding == finding }) else {
                throw ClinicError(ValidationError(.invalidValue, field: "finding", message: "that is not something the checker read from your message"))
            }
            var corrected = state
            switch reading {
            case .present: corrected.opening[i].present = true
            case .absent: corrected.opening[i].present = false
            case .notMentioned: corrected.opening.remove(at: i)
            }
            // A correction may raise a warning sign, never take one away: a red flag that has fired
            // (urgent ones leave the chat open) or crisis signposting stays, whatever is corrected.
            let before = Set(engine.firedRules(profile: profile, evidence: state.evidence).map(\.id))
            let after = Set(engine.firedRules(profile: profile, evidence: corrected.evidence).map(\.id))
            guard before.isSubset(of: after), !TriageEngine.signalsCrisis(state.evidence) || TriageEngine.signalsCrisis(corrected.evidence) else {
                throw ClinicError(
                    .transitionNotAllowed,
                    "this was read as a warning sign, so the checker keeps it; if it is wrong, tell the clinician, or start a new check")
            }
            if !(corrected.corrected ?? []).contains(finding) { corrected.corrected = (corrected.corrected ?? []) + [finding] }
            state = corrected
            return false
        }
    }

    /// Takes back the last answer (its question is asked again).
    public func back(_ id: String, version: Int?, _ r: ClinicRequest) async throws -> TriageView {
        try await change(id, version: version, r) { state, _ in
            guard !state.answers.isEmpty else { throw ClinicError(.transitionNotAllowed, "there is no answer to take back") }
            state.answers.removeLast()
            return false
        }
    }

    /// Ends the conversation now with the advice the answers so far support.
    public func finish(_ id: String, version: Int?, _ r: ClinicRequest) async throws -> TriageView {
        try await change(id, version: version, r) { _, _ in true }
    }

    /// Attaches the patient's finished session to their consultation (called by booking).
    public func attach(_ id: String, to consultation: Consultation.ID, _ r: ClinicRequest) async throws {
        // Decided on the session as it is, and as it will be: attached, it takes the consultation's
        // relations (its patient, its clinician), read from the server's record of the consultation.
        var attached = try await stores.clinicFacts.consultationFacts(consultation, for: r.principal)
        attached?.callGuest = false
        let write: AuditedWrite<TriageSessionResource> = try await gate.authorizeWrite(
            .update, id, stored: try await store.triageSessionFacts(id, for: r.principal), proposed: attached, by: r.principal,
            purpose: "booking", requestID: r.requestID)
        guard try await store.attachTriageSession(consultation: consultation, at: clock.now(), write: write) else {
            try await gate.recordRefusal(write)
            throw ClinicError(.conflict, "this symptom check is not finished or is attached to another appointment")
        }
    }

    /// Books for the patient and attaches the finished symptom check (when given) to the booking, so
    /// its clinician sees it. The check is verified before booking, so a bad id books nothing.
    public func book(
        with clinic: ClinicService, triage: String?, clinician: Account.ID, start: Date, modality: Modality, _ r: ClinicRequest
    ) async throws -> ConsultationView {
        if let triage { try await checkAttachable(triage, r) }
        let view = try await clinic.book(clinician: clinician, start: start, modality: modality, r)
        if let triage {
            // Verified above; only a concurrent booking with the same check can make this fail, and
            // then the check stays with that other booking.
            try? await attach(triage, to: view.record.id, r)
        }
        return view
    }

    /// Checks, before booking, that a session can be attached (the patient's own, finished, unattached).
    public func checkAttachable(_ id: String, _ r: ClinicRequest) async throws {
        let view = try await session(id, r)
        guard view.status == .finished, view.consultation == nil else {
            throw ClinicError(.conflict, "finish this symptom check before booking with it, or book without it")
        }
    }

    private func change(
        _ id: String, version: Int?, _ r: ClinicRequest, _ edit: (inout TriageState, TriageProfile) throws -> Bool
    ) async throws -> TriageView {
        // One facts load serves both decisions (the change, and the read of the state it changes).
        let facts = try await store.triageSessionFacts(id, for: r.principal)
        let write: AuditedWrite<TriageSessionResource> = try await gate.authorizeWrite(
            .update, id, facts: facts, by: r.principal, purpose: "triage", requestID: r.requestID)
        let readGrant: Grant<TriageSessionResource> = try await gate.authorize(
            .read, id, facts: facts, by: r.principal, purpose: "triage", requestID: r.requestID)
        guard var session = try await store.triageSession(readGrant) else { throw AccessDenied.notFound }
        do {
            guard session.status == .open else { throw ClinicError(.transitionNotAllowed, "this conversation has finished; start a new one") }
            if let version, version != session.version { throw ClinicError(.conflict, "the conversation changed meanwhile; reload it") }
            var state = try JSONDecoder().decode(TriageState.self, from: Data(session.state.utf8))
            guard let sex = Sex(rawValue: session.sex) else { throw ClinicError(.conflict, "stored session unreadable") }
            // No edit changes the age or sex: one profile serves the edit and the turn after it.
            let profile = TriageProfile(age: session.age, sex: sex, ageMonths: state.ageMonths)
            let finish = try edit(&state, profile)
            let (status, disposition, result) = advance(&state, profile: profile, country: session.country, finished: finish)
            let expected = session.version
            session.state = try encode(state)
            session.status = status
            session.disposition = disposition
            session.result = result
            session.updatedAt = clock.now()
            guard try await store.updateTriageSession(session, expectedVersion: expected, write: write) else {
                throw ClinicError(.conflict, "the conversation changed meanwhile; reload it")
            }
            session.version = expected + 1
            return try view(session)
        } catch let error as ClinicError {
            try await gate.recordRefusal(write)
            throw error
        }
    }

    /// Runs the engine on the state: sets the pending question, or finishes with an outcome.
    private func advance(_ state: inout TriageState, profile: TriageProfile, country: String, finished: Bool)
        -> (TriageSessionRecord.Status, String?, String?)
    {
        let assessment = engine.assess(profile: profile, evidence: state.evidence, asked: state.answers.map(\.finding), finished: finished)
        // Evidence that names no problem: ask for it in the patient's words, once (C25); never after
        // a red-flag rule has fired, nor before a question that would complete one unless
        // `describeAfter` questions were asked already.
        if !finished, state.described != true,
            engine.asksForDescription(profile: profile, evidence: state.evidence, asked: state.answers.count, first: assessment)
        {
            state.pending = Self.describeQuestion
            return (.open, nil, nil)
        }
        if let question = assessment.question {
            state.pending = question.id
            return (.open, nil, nil)
        }
        state.pending = nil
        let outcome = TriageOutcome(
            disposition: assessment.disposition,
            advice: Advice(
                disposition: assessment.disposition, services: .forCountry(country), reasons: assessment.firedRules.map(\.reason),
                couldNotAssess: assessment.couldNotAssess, crisis: assessment.crisis),
            conditions: Array(assessment.conditions.prefix(5)), redFlags: assessment.firedRules,
            stopReason: assessment.stopReason ?? .nothingToLearn, questionsAsked: state.answers.count)
        let json = (try? JSONEncoder().encode(outcome)).map { String(decoding: $0, as: UTF8.self) }
        return (.finished, assessment.disposition.rawValue, json)
    }

    private func encode(_ state: TriageState) throws -> String {
        String(decoding: try JSONEncoder().encode(state), as: UTF8.self)
    }

    func view(_ s: TriageSessionRecord) throws -> TriageView {
        let state = try JSONDecoder().decode(TriageState.self, from: Data(s.state.utf8))
        let outcome = try s.result.map { try JSONDecoder().decode(TriageOutcome.self, from: Data($0.utf8)) }
        let question = state.pending.flatMap { id in
            id == Self.describeQuestion
                ? TriageQuestion(id: id, text: Self.describeText, kind: .describe)
                : engine.knowledge.finding(id).map { TriageQuestion(id: id, text: $0.question ?? $0.name) }
        }
        return TriageView(
            id: s.id, patient: s.patient, status: s.status, country: s.country, age: s.age, sex: s.sex, complaint: s.complaint,
            understood: state.opening.map { e in
                TriageUnderstood(
                    finding: e.finding, name: engine.knowledge.finding(e.finding)?.name ?? e.finding, present: e.present,
                    corrected: state.corrected?.contains(e.finding) == true)
            },
            answers: state.answers, question: question, outcome: outcome, consultation: s.consultation, knowledgeVersion: s.knowledgeVersion,
            version: s.version, createdAt: s.createdAt, services: .forCountry(s.country),
            crisis: TriageEngine.signalsCrisis(state.evidence) ? Advice.crisisText(.forCountry(s.country)) : nil,
            removed: (state.corrected ?? []).filter { id in !state.opening.contains { $0.finding == id } }.map {
                engine.knowledge.finding($0)?.name ?? $0
            }, details: state.details ?? [])
    }

    static let describeText =
        "Tell me in a few words what is wrong: where it is, what it feels like, and since when. For example: \"pain in my chest since this morning\", \"a cough and a temperature\", \"my baby is being sick\"."
}
