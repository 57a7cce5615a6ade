public import ConfideAudit
import ConfideCore
import ConfidePolicy
import ConfideStore
public import Foundation

/// One line of "who has seen my data".
public struct AccessLogItem: Sendable, Hashable {
    public let index: LogIndex
    public let time: Date
    /// "You", a staff member's name, "Confide (system)" or "Someone not signed in".
    public let who: String
    /// The staff role, or the kind of actor.
    public let role: String
    public let action: String
    public let resourceType: String
    public let decision: AuditEntry.Decision
    public let rules: [String]
    public let purpose: String
}

extension AccountService {
    /// The audit entries about the caller's own data, newest first, through the gate (this read is
    /// itself an audit entry).
    /// - Parameters:
    ///   - before: a log index to page from (exclusive).
    ///   - limit: at most 200.
    public func accessLog(of auth: AuthenticatedSession, before: UInt64?, limit: Int, meta: RequestMeta) async throws -> [AccessLogItem] {
        let scope = try await gate.auditEntries(by: auth.principal, purpose: "self-service", requestID: meta.requestID)
        let rows = try await stores.audit.accessLog(scope, before: before, limit: limit)
        gate.noteShown(rows, in: scope)
        var names: [String: (String, String)] = [:]
        var items: [AccessLogItem] = []
        for (index, entry) in rows {
            let (who, role) = try await describe(actor: entry.actor, me: auth.principal, cache: &names)
            items.append(
                AccessLogItem(
                    index: index, time: Date(epochMilliseconds: entry.time), who: who, role: role, action: entry.action,
                    resourceType: entry.resourceType, decision: entry.decision, rules: entry.ruleIDs, purpose: entry.purpose))
        }
        return items
    }

    func describe(actor: String, me: Principal, cache: inout [String: (String, String)]) async throws -> (String, String) {
        if actor == me.description { return ("You", "patient") }
        if let known = cache[actor] { return known }
        let parts = actor.split(separator: ":", maxSplits: 1).map(String.init)
        var result: (String, String)
        switch parts.first {
        case "system": result = ("Confide (system)", "system")
        case "anonymous": result = ("Someone not signed in", "anonymous")
        case "clinician", "admin":
            if parts.count == 2, let id = Account.ID(string: parts[1]), let entry = try await stores.staff.directoryEntry(account: id) {
                result = (entry.name.display, entry.role?.rawValue ?? entry.kind.rawValue)
            } else {
                result = ("A former staff member", parts[0])
            }
        default: result = ("Another account", "patient")
        }
        cache[actor] = result
        return result
    }
}
