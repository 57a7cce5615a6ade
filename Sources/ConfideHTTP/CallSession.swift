import ConfideBreach
import ConfideClinic
import ConfideCore
import ConfideSignalling
import ConfideStore
import Foundation
import HummingbirdWebSocket
import Logging
import NIOWebSocket
import Synchronization

/// One participant's WebSocket in a consultation's call: takes the seat, relays signalling
/// through the `CallRelay` (other instances included), renews the seat's lease, audits joins,
/// leaves, media changes and refusals, and leaves the seat when the socket goes.
final class CallSession: Sendable {
    let clinic: ClinicService
    let relay: any CallRelay
    let consultation: Consultation.ID
    let request: ClinicRequest
    let logger: Logger
    let connection = UUID().uuidString.lowercased()
    let state: Mutex<CallConnection>
    /// This participant's role, fixed by the server when the seat is taken.
    let roleBox = Mutex(CallRole.patient)
    var role: CallRole { roleBox.withLock { $0 } }
    let outbox: AsyncStream<Outgoing>.Continuation
    let outgoing: AsyncStream<Outgoing>
    /// How the session ended, once it has (the first reason wins).
    let ending = Mutex<Ending?>(nil)
    /// Whether this connection took its seat (then it must leave it).
    let seated = Mutex(false)
    let clock = ContinuousClock()
    let started: ContinuousClock.Instant

    enum Outgoing: Sendable {
        case text(String)
        case close(UInt16, String)
    }

    enum Ending: Sendable, Equatable {
        case hangup, ended, replaced, refused, dropped
        /// The invitation that let this guest in was withdrawn (the withdrawal freed the seat).
        case withdrawn
    }

    /// Relay bodies that are not server messages.
    enum Control {
        static let replaced = "ctl:replaced"
        static let chat = "ctl:chat:"
        static let location = "ctl:location:"
    }

    /// Whether the session the connection was opened with is still valid (checked with each
    /// lease renewal, which also counts as activity against the idle timeout).
    let stillSignedIn: @Sendable () async -> Bool
    /// The egress guard over what the gate released for one delivery (`true`: it may go). Patients'
    /// chat lines pass it one by one, as an HTTP response would.
    let screen: @Sendable ([ReleasedItem]) async throws -> Bool

    init(
        clinic: ClinicService, relay: any CallRelay, consultation: Consultation.ID, request: ClinicRequest, logger: Logger,
        stillSignedIn: @escaping @Sendable () async -> Bool, screen: @escaping @Sendable ([ReleasedItem]) async throws -> Bool
    ) {
        self.stillSignedIn = stillSignedIn
        self.screen = screen
        self.clinic = clinic
        self.relay = relay
        self.consultation = consultation
        self.request = request
        self.logger = logger
        self.state = Mutex(CallConnection(role: .patient, peers: []))
        (outgoing, outbox) = AsyncStream<Outgoing>.makeStream(bufferingPolicy: .unbounded)
        started = clock.now
    }

    var seconds: Double {
        let d = clock.now - started
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    func send(_ message: ServerMessage) { outbox.yield(.text(message.json)) }

    /// Reads something for this participant under its own egress ledger, and hands it over only if
    /// the egress guard passes every item the gate released for it. Withheld: nothing is sent and
    /// the connection ends with 4404 (the guard has raised the incident). The guard could not
    /// decide (the database failed): nothing is sent either, the participant is told, and the call
    /// goes on.
    func screened<T: Sendable>(_ read: @Sendable () async throws -> T?) async -> T? {
        let ledger = EgressLedger()
        guard let value = try? await EgressLedger.$current.withValue(ledger, operation: read) else { return nil }
        do {
            guard try await screen(ledger.items) else {
                finish(.refused, code: CloseCode.withheld.rawValue, reason: "withheld")
                return nil
            }
            return value
        } catch {
            logger.error("egress guard could not check a chat line; not delivered", metadata: ["consultation": "\(consultation)"])
            send(.error(code: "not-delivered", message: "a message could not be shown; reload the chat to see it"))
            return nil
        }
    }

    /// Ends the session with a close frame (once).
    func finish(_ how: Ending, code: UInt16, reason: String) {
        let first = ending.withLock { e -> Bool in
            guard e == nil else { return false }
            e = how
            return true
        }
        guard first else { return }
        outbox.yield(.close(code, reason))
        outbox.finish()
    }

    func publish(_ body: String, to: String? = nil) async {
        do {
            try await relay.publish(CallSignal(consultation: consultation.description, fromConnection: connection, toConnection: to, body: body))
        } catch {
            logger.warning("call signal not relayed", metadata: ["consultation": "\(consultation)"])
        }
    }

    func audit(_ body: () async throws -> Void) async {
        do { try await body() } catch { logger.warning("call audit write failed", metadata: ["consultation": "\(consultation)"]) }
    }

    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, resumeToken: String?) async {
        let signals = relay.signals(consultation: consultation.description)
        // The writer outlives the other tasks: a refusal's error message and close frame are
        // always written before the handler returns.
        async let writing: Void = write(outbound)
        if await join(resumeToken: resumeToken) {
            // Frames are read without waiting for their effects (relay writes, audit entries), so
            // the socket keeps answering pings however slow the database is; one worker applies
            // the verdicts in order.
            let (verdicts, pending) = AsyncStream<Verdict>.makeStream()
            let worker = Task {
                for await verdict in verdicts { await self.act(verdict) }
            }
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.listen(signals) }
                group.addTask { await self.keepSeat() }
                await self.read(inbound, into: pending)
                pending.finish()
                await worker.value
                // The socket is gone or closing: stop the helpers.
                self.finish(.dropped, code: CloseCode.normal.rawValue, reason: "")
                group.cancelAll()
            }
            await leave()
        }
        await writing
    }

    /// Writes queued frames in order; a close frame ends the writer.
    func write(_ outbound: WebSocketOutboundWriter) async {
        for await item in outgoing {
            do {
                switch item {
                case .text(let text): try await outbound.write(.text(text))
                case .close(let code, let reason):
                    try await outbound.close(WebSocketErrorCode(codeNumber: Int(code)), reason: reason)
                    return
                }
            } catch {
                return
            }
        }
    }

    /// Takes the seat and says welcome; `false` when the connection was refused (and closed).
    func join(resumeToken: String?) async -> Bool {
        let outcome: SeatOutcome
        let ticket: CallTicket
        do {
            outcome = try await clinic.takeSeat(
                consultation, connection: connection, resumeToken: resumeToken, mode: MediaMode.video.rawValue, muted: false, request)
            ticket = try await clinic.callTicket(consultation, request)
        } catch {
            send(.error(code: "not-found", message: "no such consultation"))
            finish(.refused, code: CloseCode.over.rawValue, reason: "not available")
            return false
        }
        switch outcome {
        case .refused(let refusal):
            send(.error(code: refusal.kind.rawValue, message: refusal.message))
            let code = refusal.kind == .over ? CloseCode.over : CloseCode.outsideWindow
            finish(.refused, code: code.rawValue, reason: refusal.kind.rawValue)
            return false
        case .occupied:
            send(.error(code: "already-joined", message: "you are already in this call in another window or device"))
            finish(.refused, code: CloseCode.alreadyJoined.rawValue, reason: "already joined")
            return false
        case .seated(let token, let replaced, let seats, let startedNow):
            seated.withLock { $0 = true }
            let role = CallRole(rawValue: ticket.role) ?? .patient
            roleBox.withLock { $0 = role }
            let now = Date()
            let peers = seats.filter { $0.role != role.rawValue && $0.isLive(at: now) }.compactMap { seat -> PeerState? in
                guard let r = CallRole(rawValue: seat.role) else { return nil }
                return PeerState(role: r, mode: MediaMode(rawValue: seat.mode) ?? .video, muted: seat.muted)
            }
            state.withLock { $0 = CallConnection(role: role, peers: peers) }
            let status = startedNow ? ConsultationStatus.inProgress : ticket.consultation.record.status
            send(
                .welcome(
                    Welcome(
                        role: role, consultation: consultation.description, resumeToken: token, status: status.rawValue,
                        modality: ticket.consultation.record.modality.rawValue, peers: peers, location: ticket.location?.address)))
            if let replaced { await publish(Control.replaced, to: replaced) }
            await publish(ServerMessage.peerJoined(role: role, resumed: replaced != nil).json)
            if startedNow {
                await publish(ServerMessage.status(ConsultationStatus.inProgress.rawValue).json)
            }
            return true
        }
    }

    /// Frames from the client until it goes or the session ends; their verdicts go to `pending`.
    func read(_ inbound: WebSocketInboundStream, into pending: AsyncStream<Verdict>.Continuation) async {
        do {
            for try await message in inbound.messages(maxSize: MessageCodec.maxFrameBytes) {
                guard ending.withLock({ $0 == nil }) else { return }
                switch message {
                case .text(let text):
                    let verdict = state.withLock { $0.receive(frame: text, at: seconds) }
                    pending.yield(verdict)
                    // After a closing verdict nothing more is read.
                    if case .close = verdict { return }
                case .binary:
                    pending.yield(.close(ProtocolViolation(code: .malformed, reason: "binary frames are not accepted")))
                    return
                }
            }
        } catch {
            // An oversized or broken frame: the socket closed it; record the refusal.
            if ending.withLock({ $0 == nil }) { pending.yield(.close(ProtocolViolation(code: .tooBig, reason: "frame refused"))) }
        }
    }

    func refuse(_ violation: ProtocolViolation) async {
        await audit { try await clinic.recordCallRefusal(consultation, request) }
        send(.error(code: violation.code == .flooding ? "flooding" : "malformed", message: violation.reason))
        finish(.refused, code: violation.code.rawValue, reason: violation.reason)
    }

    func act(_ verdict: Verdict) async {
        switch verdict {
        case .relay(let message):
            await publish(message.json)
        case .reply(let message):
            send(message)
        case .media(let mode, let muted):
            let changed = (try? await clinic.changeMedia(consultation, connection: connection, mode: mode.rawValue, muted: muted, request)) ?? false
            if changed { await publish(ServerMessage.media(from: role, mode: mode, muted: muted).json) }
        case .chat(let text):
            // The echo is the sender's own words, just typed: it is not screened. Every other
            // participant reads the saved line for themselves (patients through the guard).
            do {
                let line = try await clinic.postChat(consultation, text: text, request)
                send(.chat(id: line.id, from: role, text: line.text, at: CallController.iso(line.at)))
                await publish(Control.chat + line.id)
            } catch {
                send(.error(code: "not-saved", message: "the message could not be saved; please try again"))
            }
        case .location(let address):
            do {
                let location = try await clinic.confirmLocation(consultation, address: address, request)
                await publish(Control.location + location.id)
            } catch {
                send(.error(code: "not-saved", message: "your location could not be saved; please try again"))
            }
        case .hangup:
            finish(.hangup, code: CloseCode.normal.rawValue, reason: "hangup")
        case .end:
            do {
                _ = try await clinic.transition(consultation, .end, request)
                await publish(ServerMessage.ended.json)
                send(.ended)
                finish(.ended, code: CloseCode.normal.rawValue, reason: "consultation ended")
            } catch let e as ClinicError {
                send(.error(code: "not-allowed", message: e.message))
            } catch {
                send(.error(code: "not-allowed", message: "the consultation could not be ended"))
            }
        case .refuse(let code, let message):
            await audit { try await clinic.recordCallRefusal(consultation, request) }
            send(.error(code: code, message: message))
        case .close(let violation):
            await refuse(violation)
        }
    }

    /// Signals from the other participant (any instance).
    func listen(_ signals: AsyncStream<CallSignal>) async {
        for await signal in signals {
            guard signal.fromConnection != connection, signal.toConnection == nil || signal.toConnection == connection else { continue }
            if signal.body == Control.replaced {
                finish(.replaced, code: CloseCode.replaced.rawValue, reason: "resumed elsewhere")
                return
            }
            if signal.body.hasPrefix(Control.chat) {
                let id = String(signal.body.dropFirst(Control.chat.count))
                let clinic = self.clinic, consultation = self.consultation, request = self.request
                if let line = await screened({ try await clinic.chatLine(consultation, line: id, request) }), let from = CallRole(rawValue: line.role) {
                    send(.chat(id: line.id, from: from, text: line.text, at: CallController.iso(line.at)))
                }
                continue
            }
            if signal.body.hasPrefix(Control.location) {
                guard role == .clinician, let location = try? await clinic.callLocation(consultation, request) else { continue }
                send(.location(address: location.address, at: CallController.iso(location.at)))
                continue
            }
            guard let message = ServerMessage.parse(signal.body) else { continue }
            // Chat travels as `ctl:chat:<id>` and is read and screened above; a chat message relayed
            // as a body is never forwarded.
            if case .chat = message { continue }
            let forward = state.withLock { $0.deliver(message) }
            // The body is the message as its sender encoded it: forwarded as is.
            if forward { outbox.yield(.text(signal.body)) }
            if case .invitationWithdrawn = message, role == .guest, (try? await clinic.callTicket(consultation, request)) == nil {
                finish(.withdrawn, code: CloseCode.withdrawn.rawValue, reason: "invitation withdrawn")
                return
            }
            if message == .ended {
                finish(.ended, code: CloseCode.normal.rawValue, reason: "consultation ended")
                return
            }
        }
    }

    /// Renews the seat's lease every third of it; a lost seat ends the session.
    func keepSeat() async {
        let interval = clinic.callConfiguration.seatLease / 3
        while !Task.isCancelled {
            do { try await Task.sleep(for: .seconds(interval)) } catch { return }
            let held = (try? await clinic.renewSeat(consultation, role: role.rawValue, connection: connection)) ?? true
            if !held {
                finish(.replaced, code: CloseCode.replaced.rawValue, reason: "resumed elsewhere")
                return
            }
            if await !stillSignedIn() {
                send(.error(code: "signed-out", message: "your session has ended; sign in again to rejoin"))
                finish(.dropped, code: CloseCode.signedOut.rawValue, reason: "session ended")
                return
            }
        }
    }

    /// Leaves the seat (unless another connection took it over) and tells the other side.
    func leave() async {
        let how = ending.withLock { $0 } ?? .dropped
        guard seated.withLock({ $0 }), how != .replaced else { return }
        let reason: LeaveReason = how == .hangup || how == .ended || how == .withdrawn ? .hangup : .dropped
        if how != .withdrawn {
            await audit { try await clinic.leaveSeat(consultation, connection: connection, reason: how == .ended ? "ended" : reason.rawValue, request) }
        }
        // After `ended` everyone has been told already.
        if how != .ended { await publish(ServerMessage.peerLeft(role: role, reason: reason).json) }
    }
}
