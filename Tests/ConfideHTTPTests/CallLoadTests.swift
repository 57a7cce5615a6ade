import ConfideAccounts
import ConfideClinic
import ConfideCore
import ConfideStore
import ConfideTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import HummingbirdWSClient
import Logging
import NIOWebSocket
import Synchronization
import Testing

/// The CI-sized variant of the call load benchmark (`scripts/bench-calls`, issue 5 item 6): many
/// rooms at once on a live server; correctness only, no timing (the bench reports performance).
@Suite("call load")
struct CallLoadTests {
    static let rooms = 50
    static let clinicianSlots = 5
    static let candidates = 20

    @Test("50 rooms at once: every patient receives every candidate its clinician sent, in order, and the server closes no socket")
    func fiftyRooms() async throws {
        try await TestWorld.with { world in
            let rooms = try await LoadRoom.make(world, count: Self.rooms, perClinician: Self.clinicianSlots)
            try await world.application().test(.live) { client in
                let port = try #require(client.port)
                let watchdog = Task {
                    // A room whose patient never gets everything still ends (and fails below).
                    try await Task.sleep(for: .seconds(120))
                    for room in rooms {
                        await room.peerPresent.open()
                        await room.done.open()
                    }
                }
                await withTaskGroup(of: Void.self) { group in
                    for room in rooms {
                        group.addTask { await room.run(port: port, side: .patient, candidates: Self.candidates) }
                        group.addTask { await room.run(port: port, side: .clinician, candidates: Self.candidates) }
                    }
                }
                watchdog.cancel()
            }
            let expected = (0..<Self.candidates).map(LoadRoom.candidate)
            for (index, room) in rooms.enumerated() {
                let log = room.log.withLock { $0 }
                #expect(log.failures.isEmpty, "room \(index): \(log.failures)")
                #expect(log.errors.isEmpty, "room \(index): error messages \(log.errors)")
                #expect(log.received == expected, "room \(index): the patient received \(log.received.count) of \(expected.count), or out of order")
                #expect(log.closedEarly.isEmpty, "room \(index): closed by the server before the end: \(log.closedEarly)")
                #expect(log.closeCodes.sorted() == [1000, 1000], "room \(index): close codes \(log.closeCodes)")
            }
        }
    }
}

/// One consultation's two participants, driven over real WebSockets.
final class LoadRoom: Sendable {
    enum Side: String, Sendable {
        case patient, clinician
    }

    struct Log: Sendable {
        var received: [String] = []
        var errors: [String] = []
        var failures: [String] = []
        var closedEarly: [String] = []
        var closeCodes: [UInt16] = []
    }

    let consultation: String
    let patientToken: String
    let clinicianToken: String
    let log = Mutex(Log())
    /// The clinician knows the patient is in the room.
    let peerPresent = Gate()
    /// The patient has every candidate (or the watchdog gave up): both leave.
    let done = Gate()

    init(consultation: String, patientToken: String, clinicianToken: String) {
        self.consultation = consultation
        self.patientToken = patientToken
        self.clinicianToken = clinicianToken
    }

    /// A valid host candidate carrying its sequence number in the port.
    static func candidate(_ seq: Int) -> String {
        "candidate:842163049 1 udp 1677729535 198.51.100.7 \(40000 + seq) typ srflx raddr 10.0.0.2 rport \(40000 + seq) generation 0 ufrag x1Yz network-cost 999"
    }

    static let offer: String = {
        let sdp = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n"
        return String(decoding: try! JSONSerialization.data(withJSONObject: ["type": "offer", "sdp": sdp], options: [.withoutEscapingSlashes]), as: UTF8.self)
    }()

    static func candidateJSON(_ seq: Int) -> String {
        String(
            decoding: try! JSONSerialization.data(
                withJSONObject: ["type": "candidate", "candidate": candidate(seq), "sdpMid": "0", "sdpMLineIndex": 0] as [String: Any],
                options: [.withoutEscapingSlashes]), as: UTF8.self)
    }

    func run(port: Int, side: Side, candidates: Int) async {
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(side == .patient ? patientToken : clinicianToken)"
        let url = "ws://127.0.0.1:\(port)/api/v1/consultations/\(consultation)/call/ws"
        let closedEarly = LoadFlag()
        do {
            let close = try await WebSocketClient.connect(
                url: url, configuration: .init(maxFrameSize: 1 << 16, additionalHeaders: headers), logger: Logger(label: "load", factory: { _ in SwiftLogNoOpLogHandler() })
            ) { inbound, outbound, _ in
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        await self.read(inbound, side: side, candidates: candidates)
                        if await !self.done.isOpen { closedEarly.value.withLock { $0 = true } }
                    }
                    if side == .clinician {
                        await self.peerPresent.wait()
                        do {
                            // Candidates may flow only after an offer; 21 messages stay within the burst of 60.
                            try await outbound.write(.text(Self.offer))
                            for seq in 0..<candidates { try await outbound.write(.text(Self.candidateJSON(seq))) }
                        } catch {
                            self.log.withLock { $0.failures.append("clinician send failed: \(error)") }
                        }
                    }
                    await self.done.wait()
                    try? await outbound.write(.text(#"{"type":"hangup"}"#))
                    await group.waitForAll()
                }
            }
            let code = close.map { UInt16(webSocketErrorCode: $0.closeCode) }
            log.withLock {
                if let code { $0.closeCodes.append(code) }
                if closedEarly.value.withLock({ $0 }) {
                    $0.closedEarly.append("\(side.rawValue): \(code.map(String.init) ?? "no close frame") \(close?.reason ?? "")")
                }
            }
        } catch {
            log.withLock { $0.failures.append("\(side.rawValue) could not connect: \(error)") }
            await done.open()
            await peerPresent.open()
        }
    }

    func read(_ inbound: WebSocketInboundStream, side: Side, candidates: Int) async {
        do {
            for try await message in inbound.messages(maxSize: 1 << 16) {
                guard case .text(let text) = message,
                    let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
                else {
                    log.withLock { $0.failures.append("\(side.rawValue): not a JSON text message") }
                    continue
                }
                switch object["type"] as? String {
                case "welcome" where side == .clinician:
                    if !((object["peers"] as? [Any]) ?? []).isEmpty { await peerPresent.open() }
                case "peer-joined" where side == .clinician:
                    await peerPresent.open()
                case "candidate" where side == .patient:
                    let from = object["from"] as? String
                    let count = log.withLock { log -> Int in
                        if from == "clinician", let c = object["candidate"] as? String { log.received.append(c) }
                        return log.received.count
                    }
                    if count == candidates { await done.open() }
                case "error":
                    log.withLock { $0.errors.append("\(side.rawValue): \(text)") }
                default:
                    break
                }
            }
        } catch {
            log.withLock { $0.failures.append("\(side.rawValue) read failed: \(error)") }
        }
    }

    /// `count` video consultations on Monday 30 November 2026 from 09:00 (10-minute slots),
    /// `perClinician` per clinician, each with its own patient; at 09:30 all are inside the default
    /// join window (15 minutes before to 60 minutes after the start), and everyone signs in then.
    static func make(_ world: TestWorld, count: Int, perClinician: Int) async throws -> [LoadRoom] {
        world.clock.set(ClinicFixture.monday0800)
        let system = ClinicRequest.by(.system(job: "test"))
        let practice = try await world.clinic.createPractice(
            name: "Load Surgery", country: "GB", region: "England", zone: "Europe/London", system)
        let weekly = [
            AvailabilityDocument.Window(
                weekday: "monday", start: "09:00", end: "12:00", slot_minutes: 10, modalities: ["video"], valid_from: nil, valid_until: nil)
        ]
        var clinicians: [(account: Account.ID, email: String, uri: String)] = []
        for index in 0..<(count + perClinician - 1) / perClinician {
            let email = Fixtures.email("loadclinician\(index)")
            let (account, uri) = try await world.accounts.createStaffWithCredentials(
                StaffInput(
                    email: email, givenName: "Load", familyName: "Clinician", kind: .clinician, role: "gp",
                    registrationNumber: "REG-\(20000 + index)"),
                password: Fixtures.password, job: "test")
            try await world.clinic.addMember(practice: practice.id, account: account, role: .clinician, system)
            _ = try await world.clinic.setAvailability(
                clinician: account, practice: practice.id, document: AvailabilityDocument(weekly: weekly, exceptions: nil),
                .by(.clinician(account: account, role: .gp)))
            clinicians.append((account, email, uri))
        }
        var booked: [(consultation: String, email: String, clinician: Int)] = []
        for index in 0..<count {
            let email = Fixtures.email("loadpatient\(index)")
            let profile = try await world.accounts.seedPatient(
                RegistrationInput(email: email, password: Fixtures.password, givenName: "Load", familyName: "Patient", birthDate: "1980-01-01"),
                job: "test")
            let patient = Principal.patient(account: profile.account, patient: try #require(profile.patient))
            try await world.clinic.registerWithPractice(practice.id, .by(patient))
            let start = ClinicFixture.monday0800.addingTimeInterval(3600 + Double((index % perClinician) * 600))
            let consultation = try await world.clinic.book(
                clinician: clinicians[index / perClinician].account, start: start, modality: .video, .by(patient)
            ).record
            booked.append((consultation.id.description, email, index / perClinician))
        }
        // Sessions idle out after 30 minutes of the world's clock: sign in at join time.
        world.clock.set(ClinicFixture.monday0800.addingTimeInterval(90 * 60))
        func meta(_ n: Int) -> RequestMeta { RequestMeta(requestID: "test", clientAddress: "10.1.\(n / 256).\(n % 256)") }
        var clinicianTokens: [String] = []
        for (index, clinician) in clinicians.enumerated() {
            let code = try totpCode(clinician.uri, at: world.clock.now())
            clinicianTokens.append(
                try await world.accounts.signIn(email: clinician.email, password: Fixtures.password, totp: code, kind: .bearer, meta: meta(index)).token)
        }
        var rooms: [LoadRoom] = []
        for (index, b) in booked.enumerated() {
            let token = try await world.accounts.signIn(
                email: b.email, password: Fixtures.password, totp: nil, kind: .bearer, meta: meta(1000 + index)
            ).token
            rooms.append(LoadRoom(consultation: b.consultation, patientToken: token, clinicianToken: clinicianTokens[b.clinician]))
        }
        return rooms
    }
}

/// A flag shared by a connection's tasks.
final class LoadFlag: Sendable {
    let value = Mutex(false)
}

