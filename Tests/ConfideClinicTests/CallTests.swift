import ConfideAudit
import ConfideBreach
import ConfideClinic
import ConfideCore
import ConfidePolicy
import ConfideStore
import ConfideTesting
import Foundation
import Testing

/// A seat taken, or a failed test.
func seated(_ outcome: SeatOutcome, sourceLocation: SourceLocation = #_sourceLocation) throws
    -> (token: String, replaced: String?, seats: [CallSeat], started: Bool)
{
    guard case .seated(let token, let replaced, let seats, let started) = outcome else {
        Issue.record("expected a seat, got \(outcome)", sourceLocation: sourceLocation)
        throw CancellationError()
    }
    return (token, replaced, seats, started)
}

func refusedKind(_ outcome: SeatOutcome) -> CallRefusal.Kind? {
    if case .refused(let r) = outcome { return r.kind }
    return nil
}

func isOccupied(_ outcome: SeatOutcome) -> Bool {
    if case .occupied = outcome { return true }
    return false
}

/// A practice, Alice, and her video consultation at 10:00 on the fixture's Monday (the clock at 08:00).
func aliceBooked(_ world: TestWorld) async throws -> (ClinicFixture, Principal, ConsultationRecord) {
    let clinic = try await ClinicFixture.make(world)
    let alice = try await clinic.patient(world, name: "Alice")
    let c = try await world.clinic.book(clinician: clinic.gpAccount, start: clinic.slot(6), modality: .video, .by(alice)).record
    return (clinic, alice, c)
}

/// Takes `who`'s seat in the call on connection `connection` (video, not muted).
func seat(_ world: TestWorld, _ id: Consultation.ID, _ connection: String, _ who: Principal, resume: String? = nil) async throws -> SeatOutcome {
    try await world.clinic.takeSeat(id, connection: connection, resumeToken: resume, mode: "video", muted: false, .by(who))
}

@Suite("calls")
struct CallTests {
    @Test("the call opens 15 minutes before the start, closes 60 minutes after, and never after the end; refusals are audited")
    func joinWindow() async throws {
        try await TestWorld.with { world in
            let (clinic, alice, c) = try await aliceBooked(world)
            let d = try await world.clinic.book(clinician: clinic.gpAccount, start: clinic.slot(12), modality: .video, .by(alice)).record
            // 08:00, the appointment is at 10:00: too early.
            let early = try await seat(world, c.id, "a1", alice)
            #expect(refusedKind(early) == .outsideWindow)
            let ticket = try await world.clinic.callTicket(c.id, .by(alice))
            #expect(ticket.refusal?.kind == .outsideWindow && ticket.role == "patient")
            #expect(ticket.opensAt == c.start.addingTimeInterval(-15 * 60) && ticket.closesAt == c.start.addingTimeInterval(3600))
            // 09:45: open.
            world.clock.set(c.start.addingTimeInterval(-15 * 60))
            _ = try seated(try await seat(world, c.id, "a2", alice))
            try await world.clinic.leaveSeat(c.id, connection: "a2", reason: "hangup", .by(alice))
            // 11:00:01, never started: closed.
            world.clock.set(c.start.addingTimeInterval(3601))
            #expect(refusedKind(try await seat(world, c.id, "a3", alice))
                == .outsideWindow)
            // A cancelled consultation is over.
            _ = try await world.clinic.transition(d.id, .cancel, .by(alice))
            world.clock.set(d.start)
            #expect(refusedKind(try await seat(world, d.id, "a4", alice))
                == .over)
            let joins = try await auditEntries(world).filter { $0.action == "join" && $0.resourceID == c.id.description }
            #expect(joins.filter { $0.decision == .refused }.count == 2)
            #expect(joins.filter { $0.decision == .allowed }.count >= 2)
        }
    }

    @Test("only the consultation's patient and its clinician may join; everyone else is told 'not found' and recorded")
    func onlyParticipants() async throws {
        try await TestWorld.with { world in
            let (clinic, _, c) = try await aliceBooked(world)
            let bob = try await clinic.patient(world, name: "Bob")
            world.clock.set(c.start)
            for outsider in [bob, clinic.nurse, clinic.practiceAdmin, clinic.operator_, Principal.anonymous] {
                await #expect(throws: AccessDenied.self) {
                    _ = try await seat(world, c.id, "x", outsider)
                }
                await #expect(throws: AccessDenied.self) { _ = try await world.clinic.callTicket(c.id, .by(outsider)) }
                await #expect(throws: AccessDenied.self) { _ = try await world.clinic.chat(c.id, .by(outsider)) }
            }
            // Break-glass reads a consultation but never joins its call or reads its chat.
            await #expect(throws: AccessDenied.self) { _ = try await world.clinic.chat(c.id, .by(clinic.nurse)) }
            let denied = try await auditEntries(world).filter { $0.action == "join" && $0.resourceID == c.id.description && $0.decision != .allowed }
            #expect(denied.count == 16)
            #expect(try await world.stores.calls.seats(consultation: c.id).isEmpty)
        }
    }

    @Test("one seat per participant: a second connection is refused unless it shows the resume token; both seated starts the consultation")
    func seats() async throws {
        try await TestWorld.with { world in
            let (clinic, alice, c) = try await aliceBooked(world)
            world.clock.set(c.start.addingTimeInterval(-300))
            let first = try seated(try await seat(world, c.id, "p1", alice))
            #expect(!first.started && first.replaced == nil)
            // A second tab without the token: occupied, recorded as refused, nothing changed.
            #expect(isOccupied(try await seat(world, c.id, "p2", alice)))
            #expect(isOccupied(try await seat(world, c.id, "p2", alice, resume: "guess")))
            #expect(try await world.stores.calls.seats(consultation: c.id).map(\.connection) == ["p1"])
            // The token moves the seat (a resume after a network drop).
            let resumed = try seated(
                try await seat(world, c.id, "p3", alice, resume: first.token))
            #expect(resumed.replaced == "p1")
            #expect(try await !world.clinic.renewSeat(c.id, role: "patient", connection: "p1"))
            #expect(try await world.clinic.renewSeat(c.id, role: "patient", connection: "p3"))
            // The old token is spent.
            #expect(isOccupied(try await seat(world, c.id, "p4", alice, resume: first.token)))
            // The clinician joins: the consultation is in progress, for both instances.
            let gp = try seated(try await seat(world, c.id, "g1", clinic.gp))
            #expect(gp.started)
            #expect(try await world.clinic.consultation(c.id, .by(alice)).record.status == .inProgress)
            // A media change is an audited write; a dropped connection frees the seat without a token.
            #expect(try await world.clinic.changeMedia(c.id, connection: "p3", mode: "audio-only", muted: true, .by(alice)))
            #expect(try await !world.clinic.changeMedia(c.id, connection: "p1", mode: "video", muted: false, .by(alice)))
            try await world.clinic.leaveSeat(c.id, connection: "p3", reason: "dropped", .by(alice))
            let again = try seated(try await seat(world, c.id, "p5", alice))
            #expect(!again.started && again.replaced == nil)
            // A seat whose instance died (its lease ran out) is free as well.
            world.clock.advance(by: 31)
            _ = try seated(try await seat(world, c.id, "g2", clinic.gp))
            let entries = try await auditEntries(world).filter { $0.action == "join" && $0.resourceID == c.id.description }
            #expect(entries.filter { $0.decision == .refused }.count == 4)
            #expect(entries.allSatisfy { $0.patientID == alice.patientID?.description })
        }
    }

    @Test("chat and the patient's location are saved to the consultation; only its participants read them")
    func chatAndLocation() async throws {
        try await TestWorld.with { world in
            let (clinic, alice, c) = try await aliceBooked(world)
            let bob = try await clinic.patient(world, name: "Bob")
            world.clock.set(c.start)
            let line = try await world.clinic.postChat(c.id, text: "  I can hear you now  ", .by(alice))
            world.clock.advance(by: 5)
            #expect(line.text == "I can hear you now" && line.role == "patient")
            let reply = try await world.clinic.postChat(c.id, text: "Good. Tell me about the cough.", .by(clinic.gp))
            #expect(try await world.clinic.chat(c.id, .by(clinic.gp)).map(\.role) == ["patient", "clinician"])
            #expect(try await world.clinic.chatLine(c.id, line: line.id, .by(clinic.gp))?.text == "I can hear you now")
            await #expect(throws: AccessDenied.self) { _ = try await world.clinic.chatLine(c.id, line: line.id, .by(bob)) }
            await #expect(throws: ClinicError.self) { _ = try await world.clinic.postChat(c.id, text: "   ", .by(alice)) }
            await #expect(throws: ClinicError.self) { _ = try await world.clinic.postChat(c.id, text: String(repeating: "a", count: 2001), .by(alice)) }
            // Only the patient says where they are; the clinician sees it in the join information.
            await #expect(throws: ClinicError.self) { _ = try await world.clinic.confirmLocation(c.id, address: "Surgery", .by(clinic.gp)) }
            _ = try await world.clinic.confirmLocation(c.id, address: "12 Acacia Avenue, London", .by(alice))
            #expect(try await world.clinic.callTicket(c.id, .by(clinic.gp)).location?.address == "12 Acacia Avenue, London")
            #expect(try await world.clinic.callTicket(c.id, .by(alice)).location == nil)
            // Another consultation's chat line cannot be read through this one.
            let d = try await world.clinic.book(clinician: clinic.gpAccount, start: clinic.slot(7), modality: .video, .by(bob)).record
            await #expect(throws: AccessDenied.self) { _ = try await world.clinic.chatLine(d.id, line: line.id, .by(clinic.gp)) }
            let joins = try await auditEntries(world).filter { $0.action == "join" && $0.resourceID == c.id.description && $0.decision == .allowed }
            #expect(joins.count >= 4)
            // Each chat line is an item of its own: each written line a `create`, each line a list
            // presents an entry, each delivery a `read`; all about Alice, Bob's attempt a denial.
            let messages = try await auditEntries(world).filter { $0.resourceType == "message" }
            #expect(messages.filter { $0.action == "create" && $0.decision == .allowed }.map(\.resourceID) == [line.id, reply.id])
            #expect(messages.filter { $0.action == "list" && $0.resourceID != "-" }.map(\.resourceID) == [line.id, reply.id])
            #expect(messages.filter { $0.action == "read" && $0.decision == .allowed }.map(\.resourceID) == [line.id])
            #expect(messages.filter { $0.decision == .allowed && $0.resourceID != "-" }.allSatisfy { $0.patientID == alice.patientID?.description })
            #expect(messages.contains { $0.action == "read" && $0.decision == .denied && $0.actor.hasPrefix("patient:") })
            #expect(world.logLinesWithPersonalData(extra: ["Acacia", "cough", "hear you"]).isEmpty)
        }
    }

    @Test("an in-progress consultation that everyone left is ended by the system after the timeout, exactly once across instances")
    func abandoned() async throws {
        try await TestWorld.with { world in
            let (clinic, alice, c) = try await aliceBooked(world)
            world.clock.set(c.start)
            _ = try seated(try await seat(world, c.id, "p", alice))
            _ = try seated(try await seat(world, c.id, "g", clinic.gp))
            try await world.clinic.leaveSeat(c.id, connection: "p", reason: "hangup", .by(alice))
            world.clock.advance(by: 40 * 60)
            // The clinician's seat is still live (renewed): nothing ends.
            #expect(try await world.clinic.renewSeat(c.id, role: "clinician", connection: "g"))
            #expect(try await world.clinic.endAbandonedCalls() == 0)
            try await world.clinic.leaveSeat(c.id, connection: "g", reason: "dropped", .by(clinic.gp))
            world.clock.advance(by: 29 * 60)
            #expect(try await world.clinic.endAbandonedCalls() == 0)
            world.clock.advance(by: 2 * 60)
            let other = try world.sibling()
            async let a = world.clinic.endAbandonedCalls()
            async let b = other.clinic.endAbandonedCalls()
            #expect(try await a + b == 1)
            #expect(try await world.clinic.consultation(c.id, .by(alice)).record.status == .ended)
        }
    }

    @Test("signalling published on one instance reaches the other in order, including an SDP larger than NOTIFY's payload limit")
    func relayAcrossInstances() async throws {
        try await TestWorld.with { world in
            let stream = world.events.siblingCalls.signals(consultation: "c-1")
            let unrelated = world.events.siblingCalls.signals(consultation: "c-2")
            let big = "v=0\r\n" + String(repeating: "a=candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host\r\n", count: 200)
            #expect(big.utf8.count > 8_000)
            for i in 0..<20 {
                try await world.events.calls.publish(CallSignal(consultation: "c-1", fromConnection: "x", body: i == 0 ? big : "m\(i)"))
            }
            var received: [String] = []
            for _ in 0..<20 {
                guard let s = await firstElement(stream, within: 10) else { break }
                received.append(s.body)
            }
            #expect(received == [big] + (1..<20).map { "m\($0)" })
            #expect(await firstElement(unrelated, within: 0.3) == nil)
        }
    }
}

@Suite("a second clinician in a call")
struct CallInvitationTests {
    @Test("the independent check opens the call's chat only to its relations: a care team, a pending invitation and a guest outside the accepted period are findings")
    func chatOutsideItsRelationsIsFound() async throws {
        try await TestWorld.with { world in
            let (clinic, alice, c) = try await aliceBooked(world)
            world.clock.set(c.start)
            let line = try await world.clinic.postChat(c.id, text: "hello", .by(alice))
            let nurse = clinic.nurse
            // Alice consents to the nurses' team: her record opens to them, never the call's chat.
            let team = try await world.clinic.createCareTeam(
                practice: clinic.practice.id, name: "Nurses", members: [nurse.account!], .by(.system(job: "test")))
            _ = try await world.clinic.grantConsent(team: team.id, .by(alice))
            await #expect(throws: AccessDenied.self) { _ = try await world.clinic.chat(c.id, .by(nurse)) }
            let checker = BreachChecker(evidence: world.stores.breach)
            /// Whether an (allowed) read of the line by `who` at `time` would be a finding.
            func found(_ who: Principal, at time: Date) async throws -> Bool {
                let entry = try AuditEntry(
                    at: time, principal: who, action: "read", resourceType: "message", resourceID: line.id, patientID: alice.patientID,
                    decision: .allowed, ruleIDs: ["test.v1"], requestID: "req-test", purpose: "call")
                return try await checker.check(entry, index: 0) != nil
            }
            #expect(try await found(nurse, at: world.clock.now()))
            #expect(try await !found(clinic.gp, at: world.clock.now()))
            #expect(try await !found(alice, at: world.clock.now()))
            // An invitation withdrawn while pending was never accepted.
            let pending = try await world.clinic.inviteToCall(c.id, clinician: nurse.account!, .by(clinic.gp))
            try await world.clinic.withdrawInvitation(c.id, invitation: pending.invitation.id, .by(clinic.gp))
            world.clock.advance(by: 1)
            #expect(try await found(nurse, at: world.clock.now()))
            // One accepted and later withdrawn covers exactly its period.
            let invited = try await world.clinic.inviteToCall(c.id, clinician: nurse.account!, .by(clinic.gp))
            world.clock.advance(by: 1)
            let before = world.clock.now()
            world.clock.advance(by: 1)
            #expect(try await world.clinic.answerInvitation(c.id, invitation: invited.invitation.id, consent: true, .by(alice)) == .accepted)
            world.clock.advance(by: 1)
            let during = world.clock.now()
            #expect(try await !found(nurse, at: during))
            world.clock.advance(by: 1)
            try await world.clinic.withdrawInvitation(c.id, invitation: invited.invitation.id, .by(alice))
            world.clock.advance(by: 1)
            #expect(try await found(nurse, at: before))
            #expect(try await !found(nurse, at: during))
            #expect(try await found(nurse, at: world.clock.now()))
        }
    }

    @Test("the clinician invites a colleague; they join only after the patient consents, only the call, and only until withdrawn")
    func consentedGuest() async throws {
        try await TestWorld.with { world in
            let (clinic, alice, c) = try await aliceBooked(world)
            world.clock.set(c.start)
            let nurse = clinic.nurse
            // Only the consultation's clinician invites, only a clinician of the practice, never themselves.
            await #expect(throws: ClinicError.self) { _ = try await world.clinic.inviteToCall(c.id, clinician: nurse.account!, .by(alice)) }
            await #expect(throws: ClinicError.self) { _ = try await world.clinic.inviteToCall(c.id, clinician: clinic.gpAccount, .by(clinic.gp)) }
            await #expect(throws: ClinicError.self) { _ = try await world.clinic.inviteToCall(c.id, clinician: Account.ID(), .by(clinic.gp)) }
            await #expect(throws: AccessDenied.self) { _ = try await world.clinic.inviteToCall(c.id, clinician: clinic.gpAccount, .by(nurse)) }
            let invited = try await world.clinic.inviteToCall(c.id, clinician: nurse.account!, .by(clinic.gp))
            #expect(invited.invitation.status == .pending)
            // One at a time.
            await #expect(throws: ClinicError.self) { _ = try await world.clinic.inviteToCall(c.id, clinician: nurse.account!, .by(clinic.gp)) }
            // Pending: the invitee cannot join yet; the clinician cannot answer for the patient.
            await #expect(throws: AccessDenied.self) { _ = try await world.clinic.callTicket(c.id, .by(nurse)) }
            await #expect(throws: ClinicError.self) {
                _ = try await world.clinic.answerInvitation(c.id, invitation: invited.invitation.id, consent: true, .by(clinic.gp))
            }
            #expect(try await world.clinic.answerInvitation(c.id, invitation: invited.invitation.id, consent: true, .by(alice)) == .accepted)
            await #expect(throws: ClinicError.self) {
                _ = try await world.clinic.answerInvitation(c.id, invitation: invited.invitation.id, consent: false, .by(alice))
            }
            // Accepted: the nurse joins as the guest, and sees nothing else of the consultation.
            #expect(try await world.clinic.callTicket(c.id, .by(nurse)).role == "guest")
            _ = try seated(try await seat(world, c.id, "n1", nurse))
            await #expect(throws: AccessDenied.self) { _ = try await world.clinic.consultation(c.id, .by(nurse)) }
            await #expect(throws: AccessDenied.self) { _ = try await world.clinic.note(c.id, .by(nurse)) }
            // The call's chat is part of the call: the guest writes in it and reads it.
            let said = try await world.clinic.postChat(c.id, text: "Nurse here", .by(nurse))
            #expect(said.role == "guest")
            #expect(try await world.clinic.chat(c.id, .by(nurse)).map(\.id) == [said.id])
            #expect(try await world.clinic.chatLine(c.id, line: said.id, .by(alice))?.text == "Nurse here")
            await #expect(throws: ClinicError.self) { try await world.clinic.withdrawInvitation(c.id, invitation: invited.invitation.id, .by(nurse)) }
            #expect(try await world.clinic.callInvitations(c.id, .by(nurse)).map(\.invitation.status) == [.accepted])
            // The guest alone does not start the consultation.
            #expect(try await world.clinic.consultation(c.id, .by(alice)).record.status == .booked)
            // The patient withdraws: the nurse is out.
            try await world.clinic.withdrawInvitation(c.id, invitation: invited.invitation.id, .by(alice))
            await #expect(throws: AccessDenied.self) { _ = try await world.clinic.callTicket(c.id, .by(nurse)) }
            await #expect(throws: AccessDenied.self) { _ = try await world.clinic.chat(c.id, .by(nurse)) }
            await #expect(throws: AccessDenied.self) { _ = try await world.clinic.chatLine(c.id, line: said.id, .by(nurse)) }
            await #expect(throws: AccessDenied.self) { _ = try await world.clinic.postChat(c.id, text: "still here?", .by(nurse)) }
            // The independent breach check finds every access the guest made justified.
            let (findings, _) = try await breachFindings(world)
            #expect(findings.isEmpty, "\(findings.map { "\($0.actor) \($0.action) \($0.resourceType) \($0.why)" })")
            // The withdrawal took the guest out of the call in the same write.
            #expect(try await world.stores.calls.seats(consultation: c.id).first { $0.role == "guest" }?.connected == false)
            // A declined invitation lets nobody in either, and a new one can follow.
            let again = try await world.clinic.inviteToCall(c.id, clinician: nurse.account!, .by(clinic.gp))
            #expect(try await world.clinic.answerInvitation(c.id, invitation: again.invitation.id, consent: false, .by(alice)) == .declined)
            await #expect(throws: AccessDenied.self) { _ = try await world.clinic.callTicket(c.id, .by(nurse)) }
            #expect(try await world.clinic.notifications(.by(nurse)).filter { $0.kind == "call-invitation" }.count == 2)
        }
    }
}
