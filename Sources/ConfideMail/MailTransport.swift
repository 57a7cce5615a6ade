import ConfideCore
public import ConfideStore
import Foundation

/// Sends one email. Implementations: `SMTPTransport` (a relay) and `FileTransport` (demo mode).
public protocol MailTransport: Sendable {
    /// Sends `email` with the envelope and header sender `from`.
    /// - Throws: when the message was not accepted; the outbox then retries it later.
    func send(_ email: OutgoingEmail, from: String) async throws
}

/// Renders an email as an RFC 5322 message (UTF-8 text, CRLF line endings).
enum MessageFormat {
    static func render(_ email: OutgoingEmail, from: String, date: Date = Date()) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        let domain = from.split(separator: "@").last.map(String.init) ?? "confide.invalid"
        let headers = [
            "From: Confide <\(from)>",
            "To: <\(email.to.value)>",
            "Subject: \(encodeHeader(email.subject))",
            "Date: \(formatter.string(from: date))",
            "Message-ID: <\(email.id)@\(domain)>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit",
        ]
        let body = email.body.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n")
        return headers.joined(separator: "\r\n") + "\r\n\r\n" + body + "\r\n"
    }

    /// RFC 2047 encoded-word for non-ASCII subjects.
    static func encodeHeader(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { !$0.isASCII || $0.value < 32 }) else { return text }
        return "=?UTF-8?B?\(Data(text.utf8).base64EncodedString())?="
    }
}

/// Writes each email as an `.eml` file (demo mode: a developer opens the links from there).
public struct FileTransport: MailTransport {
    let directory: String

    public init(directory: String) { self.directory = directory }

    public func send(_ email: OutgoingEmail, from: String) async throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let path = (directory as NSString).appendingPathComponent("\(Int(email.createdAt.timeIntervalSince1970))-\(email.id).eml")
        guard FileManager.default.createFile(atPath: path, contents: Data(MessageFormat.render(email, from: from).utf8), attributes: [.posixPermissions: 0o600])
        else { throw CocoaError(.fileWriteNoPermission) }
    }
}
