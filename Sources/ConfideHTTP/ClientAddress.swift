import ConfideCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 network, e.g. `10.0.0.0/8` or `fd00::/8`.
public struct IPNetwork: Sendable, Hashable {
    let bytes: [UInt8]
    let prefix: Int

    /// Parses `address/prefix` (a bare address means one host).
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
        guard let bytes = IPNetwork.parse(parts[0]) else { return nil }
        let maxPrefix = bytes.count * 8
        let prefix = parts.count == 2 ? Int(parts[1]) : maxPrefix
        guard let prefix, (0...maxPrefix).contains(prefix) else { return nil }
        self.bytes = bytes
        self.prefix = prefix
    }

    /// Whether `address` (textual) lies in this network.
    public func contains(_ address: String) -> Bool {
        guard let other = IPNetwork.parse(address), other.count == bytes.count else { return false }
        var remaining = prefix
        for i in 0..<bytes.count where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if bytes[i] & mask != other[i] & mask { return false }
            remaining -= bits
        }
        return true
    }

    static func parse(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}

/// The client address used for throttling.
public enum ClientAddress {
    /// The peer address, or, when the peer is a trusted proxy, the right-most address of
    /// `X-Forwarded-For` that is not itself a trusted proxy. IPv6 clients are keyed by their /64
    /// (one subscriber usually holds a whole /64).
    /// - Parameters:
    ///   - peer: the socket peer's address.
    ///   - forwardedFor: the `X-Forwarded-For` header, if any.
    ///   - trusted: the proxies whose `X-Forwarded-For` is believed.
    public static func resolve(peer: String?, forwardedFor: String?, trusted: [IPNetwork]) -> String {
        var address = peer ?? "unknown"
        if let peer, trusted.contains(where: { $0.contains(peer) }), let forwardedFor {
            let hops = forwardedFor.split(separator: ",").map { $0.trimmingWhitespace() }.filter { IPNetwork.parse($0) != nil }
            if let client = hops.last(where: { hop in !trusted.contains { $0.contains(hop) } }) ?? hops.first {
                address = client
            }
        }
        if let bytes = IPNetwork.parse(address), bytes.count == 16 {
            return bytes.prefix(8).map { String($0, radix: 16) }.joined(separator: ":") + "::/64"
        }
        return address
    }
}
