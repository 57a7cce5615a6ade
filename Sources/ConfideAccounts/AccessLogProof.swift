public import ConfideAudit
import ConfidePolicy
import ConfideStore
import Foundation

/// One audit entry with its inclusion proof against a signed checkpoint: enough to check,
/// offline and without trusting Confide's database, that the entry is in the published log.
public struct AccessLogProof: Sendable {
    public let index: LogIndex
    /// The entry's canonical encoding (the Merkle leaf data).
    public let entry: [UInt8]
    public let proof: InclusionProof
    /// The signed checkpoint note the proof is against.
    public let checkpointNote: String
}

extension AccountService {
    /// The caller's audit entry `index` with its inclusion proof, through the gate.
    /// - Throws: `AccessDenied` (not the caller's entry, or no such entry); `AccountsError(.notYetCheckpointed)`.
    public func accessLogProof(of auth: AuthenticatedSession, index: UInt64, meta: RequestMeta) async throws -> AccessLogProof {
        _ = try await gate.auditEntry(index, by: auth.principal, purpose: "self-service", requestID: meta.requestID)
        guard let entry = try await stores.audit.encodedEntry(at: LogIndex(index)) else { throw AccessDenied.notFound }
        // The oldest signed checkpoint that covers the entry.
        for note in try await stores.audit.checkpointNotes() {
            let text = String(decoding: note, as: UTF8.self)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            guard lines.count > 2, let size = UInt64(lines[1]), size > index else { continue }
            let log = MerkleLog(leafHashes: try await stores.audit.leafHashes())
            let proof = try log.inclusionProof(for: LogIndex(index), treeSize: size)
            return AccessLogProof(index: LogIndex(index), entry: entry, proof: proof, checkpointNote: text)
        }
        throw AccountsError(.notYetCheckpointed)
    }
}
