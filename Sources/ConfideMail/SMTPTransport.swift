import ConfideCore
public import ConfideStore
import Foundation
import NIOCore
import NIOPosix

/// Why an SMTP exchange failed. The message names the step and the reply code, never the
/// recipient or the content.
public struct SMTPError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// Sends mail through an SMTP relay (RFC 5321), plain TCP. Use a relay on the same host or a
/// private network (e.g. a local Postfix that does TLS onwards); STARTTLS and AUTH are not
/// implemented yet.
public struct SMTPTransport: MailTransport {
    let host: String
    let port: Int
    let heloName: String
    let timeout: Duration

    public init(host: String, port: Int, heloName: String = "confide.localhost", timeout: Duration = .seconds(30)) {
        self.host = host
        self.port = port
        self.heloName = heloName
        self.timeout = timeout
    }

    /// Parses `smtp://host[:port]`.
    public init?(url: String) {
        guard let components = URLComponents(string: url), components.scheme == "smtp", let host = components.host, !host.isEmpty else {
            return nil
        }
        self.init(host: host, port: components.port ?? 25)
    }

    public func send(_ email: OutgoingEmail, from: String) async throws {
        let message = MessageFormat.render(email, from: from)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await channel.executeThenClose { inbound, outbound in
                    var replies = ReplyReader(inbound.makeAsyncIterator())
                    func command(_ line: String?, expect: Int, step: String) async throws {
                        if let line { try await outbound.write(ByteBuffer(string: line + "\r\n")) }
                        let code = try await replies.next()
                        guard code / 100 == expect / 100 else { throw SMTPError(description: "smtp \(step) answered \(code)") }
                    }
                    try await command(nil, expect: 220, step: "greeting")
                    try await command("EHLO \(heloName)", expect: 250, step: "EHLO")
                    try await command("MAIL FROM:<\(from)>", expect: 250, step: "MAIL FROM")
                    try await command("RCPT TO:<\(email.to.value)>", expect: 250, step: "RCPT TO")
                    try await command("DATA", expect: 354, step: "DATA")
                    // Dot-stuffing (RFC 5321 §4.5.2), then the terminating dot line.
                    let stuffed = message.split(separator: "\r\n", omittingEmptySubsequences: false)
                        .map { $0.hasPrefix(".") ? "." + $0 : String($0) }.joined(separator: "\r\n")
                    try await outbound.write(ByteBuffer(string: stuffed))
                    try await command(".", expect: 250, step: "message")
                    try? await command("QUIT", expect: 221, step: "QUIT")
                }
            }
            let timeout = self.timeout
            group.addTask {
                try await Task.sleep(for: timeout)
                throw SMTPError(description: "smtp timed out")
            }
            try await group.next()
            group.cancelAll()
        }
    }
}

/// Reads SMTP replies (possibly multi-line, `250-...` then `250 ...`) from a byte stream.
struct ReplyReader {
    var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    var pending = ""

    init(_ iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator) { self.iterator = iterator }

    /// The code of the next complete reply.
    mutating func next() async throws -> Int {
        while true {
            while let range = pending.range(of: "\r\n") {
                let line = String(pending[..<range.lowerBound])
                pending = String(pending[range.upperBound...])
                guard line.count >= 3, let code = Int(line.prefix(3)) else { throw SMTPError(description: "smtp reply is malformed") }
                if line.count == 3 || line.dropFirst(3).first == " " { return code }
            }
            guard let chunk = try await iterator.next() else { throw SMTPError(description: "smtp connection closed") }
            pending += String(buffer: chunk)
            if pending.utf8.count > 64 * 1024 { throw SMTPError(description: "smtp reply too long") }
        }
    }
}
