import ConfideCore
import Dispatch
import HummingbirdBcrypt

/// bcrypt at a configured cost, run off the async executors (a hash at cost 12 takes about
/// a quarter of a second of CPU).
public struct PasswordHasher: Sendable {
    /// The bcrypt cost. `ServerConfiguration` refuses less than 12; tests may use 4.
    public let cost: UInt8
    // A hash of a random password at the same cost, verified when the account does not exist so
    // that the response time does not reveal whether an email is registered.
    let dummyHash: String

    public init(cost: UInt8) {
        self.cost = cost
        self.dummyHash = Bcrypt.hash("confide-timing-equaliser-\(UInt64.random(in: .min ... .max))", cost: cost)
    }

    public func hash(_ password: String) async -> String {
        let cost = self.cost
        return await offload { Bcrypt.hash(password, cost: cost) }
    }

    public func verify(_ password: String, hash: String?) async -> Bool {
        // An unusable hash (a staff invitation not yet accepted) costs as much as a real one.
        let usable = hash.map { $0.hasPrefix("$2") } ?? false
        let target = usable ? hash! : dummyHash
        let capped = String(password.utf8.prefix(PasswordPolicy.maximumBytes)) ?? ""
        let result = await offload { Bcrypt.verify(capped, hash: target) }
        return usable && result
    }

    func offload<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async { continuation.resume(returning: work()) }
        }
    }
}
