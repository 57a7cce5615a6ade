import ConfideCore
import Crypto
public import Foundation

/// AWS Signature Version 4 (`AWS4-HMAC-SHA256`) for the `Authorization` header, as S3 uses it.
///
/// Pure: the caller supplies everything that is signed (method, path, query, headers, the payload's SHA-256
/// and the time), so the result is deterministic and testable against AWS's published examples.
///
/// - The canonical URI is the path with each segment URI-encoded once (S3 does not double-encode and does
///   not normalise `.`/`..`); `/` is kept.
/// - The canonical query encodes every name and value (RFC 3986 unreserved characters kept, everything else
///   `%XX` in upper case, `/` included) and sorts by name, then value.
/// - Every header passed in is signed: names lower-cased, values trimmed with inner runs of spaces collapsed,
///   sorted by name. The caller passes `host`, `x-amz-date`, `x-amz-content-sha256` and whatever else it wants
///   covered (``S3BlobStore`` adds `content-length` on uploads).
/// - Credential scope `<yyyyMMdd>/<region>/<service>/aws4_request`; the signing key is
///   `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
///
/// The secret access key is never part of `description`, `debugDescription` or a reflection (`dump`).
public struct SigV4Signer: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public static let algorithm = "AWS4-HMAC-SHA256"
    /// The `x-amz-content-sha256` of an empty payload (SHA-256 of zero bytes).
    public static let emptyPayloadSHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    public let accessKeyID: String
    private let secretAccessKey: String
    public let region: String
    public let service: String

    public init(accessKeyID: String, secretAccessKey: String, region: String = "us-east-1", service: String = "s3") {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.region = region
        self.service = service
    }

    /// What signing produced; the intermediate strings are there for tests and debugging (they hold no secret).
    public struct Signature: Sendable {
        /// The value of the `Authorization` header.
        public let authorization: String
        /// The 64 hex digits of the signature.
        public let signature: String
        /// `host;x-amz-content-sha256;x-amz-date`, …
        public let signedHeaders: String
        public let canonicalRequest: String
        public let stringToSign: String
    }

    /// Signs a request.
    /// - Parameters:
    ///   - method: `GET`, `PUT`, …
    ///   - path: the absolute path, not yet encoded (e.g. `/bucket/a b/c`); each segment is URI-encoded once.
    ///   - query: query parameters, not yet encoded; an empty value is `name=`.
    ///   - headers: every header to sign (name, value); must include `host` and `x-amz-date`.
    ///   - payloadSHA256: lower-case hex SHA-256 of the body (or `UNSIGNED-PAYLOAD`).
    ///   - date: the time, which must equal the `x-amz-date` header's.
    public func sign(
        method: String,
        path: String,
        query: [(name: String, value: String)] = [],
        headers: [(name: String, value: String)],
        payloadSHA256: String,
        date: Date
    ) -> Signature {
        let (amzDate, dateStamp) = Self.timestamps(date)
        let canonicalHeaders =
            headers
            .map { (name: $0.name.lowercased(), value: Self.normalisedHeaderValue($0.value)) }
            .sorted { $0.name < $1.name }
        let signedHeaders = canonicalHeaders.map(\.name).joined(separator: ";")
        let canonicalRequest = [
            method,
            Self.canonicalURI(path),
            Self.canonicalQuery(query),
            canonicalHeaders.map { "\($0.name):\($0.value)\n" }.joined(),
            signedHeaders,
            payloadSHA256,
        ].joined(separator: "\n")
        let scope = "\(dateStamp)/\(region)/\(service)/aws4_request"
        let stringToSign = [Self.algorithm, amzDate, scope, Self.sha256Hex(Data(canonicalRequest.utf8))]
            .joined(separator: "\n")
        let key = Self.signingKey(
            secretAccessKey: secretAccessKey,
            dateStamp: dateStamp,
            region: region,
            service: service
        )
        let signature = lowercaseHex(
            HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: SymmetricKey(data: key))
        )
        let authorization =
            "\(Self.algorithm) Credential=\(accessKeyID)/\(scope),SignedHeaders=\(signedHeaders),Signature=\(signature)"
        return Signature(
            authorization: authorization,
            signature: signature,
            signedHeaders: signedHeaders,
            canonicalRequest: canonicalRequest,
            stringToSign: stringToSign
        )
    }

    /// The derived signing key (32 bytes) for one day, region and service.
    public static func signingKey(
        secretAccessKey: String,
        dateStamp: String,
        region: String,
        service: String
    ) -> [UInt8] {
        func mac(_ key: [UInt8], _ message: String) -> [UInt8] {
            Array(HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: SymmetricKey(data: key)))
        }
        let kDate = mac(Array("AWS4\(secretAccessKey)".utf8), dateStamp)
        let kRegion = mac(kDate, region)
        let kService = mac(kRegion, service)
        return mac(kService, "aws4_request")
    }

    /// `x-amz-date` (`yyyyMMdd'T'HHmmss'Z'`, UTC) and the scope's date stamp (`yyyyMMdd`).
    public static func timestamps(_ date: Date) -> (amzDate: String, dateStamp: String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ v: Int?) -> String {
            let v = v ?? 0
            return v < 10 ? "0\(v)" : "\(v)"
        }
        let stamp = "\(c.year ?? 1970)\(two(c.month))\(two(c.day))"
        return ("\(stamp)T\(two(c.hour))\(two(c.minute))\(two(c.second))Z", stamp)
    }

    /// RFC 3986 percent-encoding as AWS specifies it: `A-Z a-z 0-9 - . _ ~` kept, every other byte of the
    /// UTF-8 as `%XX` (upper-case hex); `/` is kept only when `keepSlash`.
    public static func uriEncode(_ string: String, keepSlash: Bool) -> String {
        var out = ""
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where keepSlash:
                out.append("/")
            default:
                let digits = Array("0123456789ABCDEF".utf8)
                out.append("%")
                out.unicodeScalars.append(Unicode.Scalar(digits[Int(byte >> 4)]))
                out.unicodeScalars.append(Unicode.Scalar(digits[Int(byte & 0x0F)]))
            }
        }
        return out
    }

    /// The path, each segment encoded once; empty is `/`.
    public static func canonicalURI(_ path: String) -> String {
        path.isEmpty ? "/" : uriEncode(path, keepSlash: true)
    }

    /// Encoded `name=value` pairs sorted by encoded name, then value, joined by `&`.
    public static func canonicalQuery(_ query: [(name: String, value: String)]) -> String {
        let encoded: [(name: String, value: String)] = query.map {
            (name: uriEncode($0.name, keepSlash: false), value: uriEncode($0.value, keepSlash: false))
        }
        let sorted = encoded.sorted { (a, b) -> Bool in a.name == b.name ? a.value < b.value : a.name < b.name }
        return sorted.map { pair -> String in pair.name + "=" + pair.value }.joined(separator: "&")
    }

    /// Trims the value and collapses each run of spaces inside it to one.
    static func normalisedHeaderValue(_ value: String) -> String {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        var out = ""
        var previousSpace = false
        for ch in trimmed {
            if ch == " " {
                if !previousSpace { out.append(ch) }
                previousSpace = true
            } else {
                out.append(ch)
                previousSpace = false
            }
        }
        return out
    }

    /// Lower-case hex SHA-256.
    public static func sha256Hex(_ data: Data) -> String { lowercaseHex(SHA256.hash(data: data)) }

    public var description: String {
        "SigV4Signer(accessKeyID: \(accessKeyID), region: \(region), service: \(service))"
    }
    public var debugDescription: String { description }
    public var customMirror: Mirror {
        Mirror(self, children: ["accessKeyID": accessKeyID, "region": region, "service": service])
    }
}
