import ConfideCore
import PropertyBased
import Testing

/// One (status, event, actor) combination, for the exhaustive table test.
struct LifecycleCase: Sendable, CustomTestStringConvertible {
    let from: ConsultationStatus
    let event: ConsultationEvent
    let actor: LifecycleActor

    var testDescription: String { "\(from.rawValue) + \(event.rawValue) by \(actor.rawValue)" }

    static let all: [LifecycleCase] = ConsultationStatus.allCases.flatMap { s in
        ConsultationEvent.allCases.flatMap { e in
            LifecycleActor.allCases.map { LifecycleCase(from: s, event: e, actor: $0) }
        }
    }
}

/// The allowed transitions, written out independently of `ConsultationLifecycle.transitions`:
/// "from event actor -> to".
let expectedTransitions: [String: ConsultationStatus] = [
    "booked check-in patient": .checkedIn,
    "booked start clinician": .inProgress,
    "booked start system": .inProgress,
    "checked-in start clinician": .inProgress,
    "checked-in start system": .inProgress,
    "in-progress end clinician": .ended,
    "in-progress end system": .ended,
    "ended sign clinician": .documented,
    "booked cancel patient": .cancelled,
    "booked cancel clinician": .cancelled,
    "checked-in cancel patient": .cancelled,
    "checked-in cancel clinician": .cancelled,
    "booked no-show clinician": .noShow,
    "booked no-show system": .noShow,
    "checked-in no-show clinician": .noShow,
    "checked-in no-show system": .noShow,
    "booked reschedule patient": .booked,
    "booked reschedule clinician": .booked,
]

func expectedNext(
    _ from: ConsultationStatus,
    _ event: ConsultationEvent,
    _ actor: LifecycleActor
) -> ConsultationStatus? {
    expectedTransitions["\(from.rawValue) \(event.rawValue) \(actor.rawValue)"]
}

/// Decodes a random number into an (event, actor) pair.
func step(_ n: Int) -> (ConsultationEvent, LifecycleActor) {
    let events = ConsultationEvent.allCases
    let actors = LifecycleActor.allCases
    return (events[n % events.count], actors[(n / events.count) % actors.count])
}

let stepGen = Gen.int(in: 0...(ConsultationEvent.allCases.count * LifecycleActor.allCases.count - 1)).array(of: 0...40)

/// Runs `steps` from `booked`, ignoring refused events; returns every status visited, in order,
/// and the (before, event, after) of every accepted event.
func run(
    _ steps: [Int],
    onlyAs actor: LifecycleActor? = nil
) -> (
    visited: [ConsultationStatus], accepted: [(ConsultationStatus, ConsultationEvent, ConsultationStatus)]
) {
    var status = ConsultationStatus.booked
    var visited = [status]
    var accepted: [(ConsultationStatus, ConsultationEvent, ConsultationStatus)] = []
    for n in steps {
        let (event, randomActor) = step(n)
        if case .success(let next) = ConsultationLifecycle.next(from: status, on: event, by: actor ?? randomActor) {
            accepted.append((status, event, next))
            status = next
            visited.append(status)
        }
    }
    return (visited, accepted)
}

@Suite("consultation lifecycle")
struct LifecycleTests {
    @Test("every (status, event, actor) gives what the written-out table says", arguments: LifecycleCase.all)
    func table(_ c: LifecycleCase) {
        let result = ConsultationLifecycle.next(from: c.from, on: c.event, by: c.actor)
        if let to = expectedNext(c.from, c.event, c.actor) {
            #expect(result == .success(to))
        } else {
            let someoneMay = LifecycleActor.allCases.contains { expectedNext(c.from, c.event, $0) != nil }
            let reason: LifecycleError.Reason = someoneMay ? .notYourStep : .notAllowedNow
            #expect(result == .failure(LifecycleError(reason: reason, from: c.from, event: c.event)))
        }
    }

    @Test("the transition table has exactly the expected rows, one per (from, event)")
    func tableAsData() {
        let rows = ConsultationLifecycle.transitions
        #expect(rows.count == 10)
        #expect(Set(rows.map { "\($0.from.rawValue) \($0.event.rawValue)" }).count == rows.count)
        let flattened = rows.flatMap { row in
            row.actors.map { "\(row.from.rawValue) \(row.event.rawValue) \($0.rawValue)" }
        }
        #expect(Set(flattened) == Set(expectedTransitions.keys))
        #expect(rows.allSatisfy { expectedNext($0.from, $0.event, $0.actors.first!) == $0.to })
        #expect(rows.allSatisfy { !$0.from.isTerminal })
    }

    @Test("terminal and active-booking statuses")
    func statusFlags() {
        #expect(ConsultationStatus.allCases.filter(\.isTerminal) == [.documented, .cancelled, .noShow])
        #expect(ConsultationStatus.allCases.filter(\.isActiveBooking) == [.booked, .checkedIn, .inProgress])
    }

    @Test("refusals explain themselves without naming anyone")
    func messages() {
        let notStarted = LifecycleError(reason: .notAllowedNow, from: .booked, event: .end)
        #expect(notStarted.message == "a consultation that has not started cannot be ended")
        #expect(
            LifecycleError(reason: .notAllowedNow, from: .cancelled, event: .start).message
                == "a consultation that was cancelled cannot be started"
        )
        #expect(
            LifecycleError(reason: .notYourStep, from: .ended, event: .sign).message
                == "only the clinician can sign this consultation"
        )
        #expect(
            LifecycleError(reason: .notYourStep, from: .booked, event: .start).message
                == "only the clinician or the system can start this consultation"
        )
        #expect(
            LifecycleError(reason: .notYourStep, from: .booked, event: .checkIn).message
                == "only the patient can check in to this consultation"
        )
        // A hand-made error for a step nobody may take still reads well.
        #expect(
            LifecycleError(reason: .notYourStep, from: .documented, event: .sign).message
                == "this step is not yours to take"
        )
        for c in LifecycleCase.all {
            if case .failure(let error) = ConsultationLifecycle.next(from: c.from, on: c.event, by: c.actor) {
                #expect(!error.message.isEmpty)
                #expect(error.message == error.description)
            }
        }
    }

    @Test("allowed events follow the table")
    func allowedEvents() {
        #expect(ConsultationLifecycle.allowedEvents(from: .booked, by: .patient) == [.checkIn, .cancel, .reschedule])
        #expect(ConsultationLifecycle.allowedEvents(from: .ended, by: .clinician) == [.sign])
        #expect(ConsultationLifecycle.allowedEvents(from: .ended, by: .system).isEmpty)
        #expect(
            ConsultationStatus.allCases.filter(\.isTerminal).allSatisfy { s in
                LifecycleActor.allCases.allSatisfy { ConsultationLifecycle.allowedEvents(from: s, by: $0).isEmpty }
            }
        )
    }

    @Test("a terminal status is never left")
    func terminalIsFinal() async {
        await propertyCheck(input: stepGen) { steps in
            let visited = run(steps).visited
            if let firstTerminal = visited.firstIndex(where: \.isTerminal) {
                #expect(firstTerminal == visited.count - 1, "\(visited)")
            }
        }
    }

    @Test("ended is reached only from in-progress, documented only from ended")
    func orderedEnding() async {
        await propertyCheck(input: stepGen) { steps in
            for (before, _, after) in run(steps).accepted {
                if after == .ended { #expect(before == .inProgress) }
                if after == .documented { #expect(before == .ended) }
                if after == .inProgress { #expect(before == .booked || before == .checkedIn) }
            }
        }
    }

    @Test("a patient alone can never start, end or document a consultation")
    func patientAlone() async {
        await propertyCheck(input: stepGen) { steps in
            let visited = run(steps, onlyAs: .patient).visited
            #expect(visited.allSatisfy { [.booked, .checkedIn, .cancelled].contains($0) }, "\(visited)")
        }
    }

    @Test("every status reached is reachable in the table, and reschedule never changes the status")
    func reachableAndReschedule() async {
        // Breadth-first over the table.
        var reachable: Set<ConsultationStatus> = [.booked]
        var frontier: [ConsultationStatus] = [.booked]
        while let s = frontier.popLast() {
            for row in ConsultationLifecycle.transitions where row.from == s && reachable.insert(row.to).inserted {
                frontier.append(row.to)
            }
        }
        #expect(reachable == Set(ConsultationStatus.allCases))
        let table = reachable
        await propertyCheck(input: stepGen) { steps in
            let (visited, accepted) = run(steps)
            #expect(visited.allSatisfy(table.contains))
            for (before, event, after) in accepted where event == .reschedule {
                #expect(before == after)
                #expect(before == .booked)
            }
        }
    }
}
