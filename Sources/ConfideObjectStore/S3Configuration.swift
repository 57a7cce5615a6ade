import ConfideVault
public import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where and as whom ``S3BlobStore`` stores blobs. There are no default credentials: they come from the
/// caller, normally from files through ``load(endpoint:region:bucket:prefix:accessKeyFile:secretKeyFile:)``.
///
/// The secret access key never appears in `description`, `debugDescription` or a reflection (`dump`).
public struct S3Configuration: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// `http://host:port` or `https://host[:port]`, optionally with a base path; objects are addressed
    /// path-style as `<endpoint>/<bucket>/<prefix><ab/cd/name>`.
    public let endpoint: URL
    public let region: String
    public let bucket: String
    /// Prepended to every object key (e.g. `recordings/`); may be empty.
    public let prefix: String
    public let accessKeyID: String
    let secretAccessKey: String
    /// Time allowed for one request, including its response body.
    public let requestTimeout: Duration
    /// The largest object `get` accepts.
    public let maxObjectBytes: Int

    /// - Throws: ``VaultError/invalidArgument(_:)`` for an endpoint that is not http(s) with a host, a bucket
    ///   name S3 would refuse, a prefix with characters outside `A-Z a-z 0-9 - . _ ~ /` (or starting with `/`
    ///   or holding `//`), or an empty credential.
    public init(
        endpoint: URL,
        region: String = "us-east-1",
        bucket: String,
        prefix: String = "",
        accessKeyID: String,
        secretAccessKey: String,
        requestTimeout: Duration = .seconds(30),
        maxObjectBytes: Int = 64 * 1024 * 1024
    ) throws {
        guard let scheme = endpoint.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = endpoint.host, !host.isEmpty, endpoint.query == nil, endpoint.user == nil
        else { throw VaultError.invalidArgument("the object store endpoint must be an http(s) URL with a host") }
        let bucketBytes = Array(bucket.utf8)
        guard (3...63).contains(bucketBytes.count),
            bucketBytes.allSatisfy({ Self.isLowerAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }),
            Self.isLowerAlnum(bucketBytes.first!), Self.isLowerAlnum(bucketBytes.last!)
        else { throw VaultError.invalidArgument("invalid bucket name") }
        guard prefix.utf8.allSatisfy(Self.isKeyCharacter), !prefix.hasPrefix("/"), !prefix.contains("//"),
            prefix.utf8.count <= 512
        else { throw VaultError.invalidArgument("invalid object key prefix") }
        guard !region.isEmpty, region.utf8.allSatisfy({ Self.isLowerAlnum($0) || $0 == UInt8(ascii: "-") }) else {
            throw VaultError.invalidArgument("invalid region")
        }
        guard !accessKeyID.isEmpty, !secretAccessKey.isEmpty else {
            throw VaultError.invalidArgument("object store credentials must not be empty")
        }
        guard
            accessKeyID.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: ",") }
            )
        else { throw VaultError.invalidArgument("invalid access key id") }
        guard requestTimeout > .zero, maxObjectBytes > 0 else {
            throw VaultError.invalidArgument("the request timeout and object size limit must be positive")
        }
        self.endpoint = endpoint
        self.region = region
        self.bucket = bucket
        self.prefix = prefix
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.requestTimeout = requestTimeout
        self.maxObjectBytes = maxObjectBytes
    }

    /// A configuration whose credentials are read from files: one line each, surrounding white space trimmed.
    ///
    /// The secret key file is refused when its group or others have any permission bit (`mode & 0o077`),
    /// like the vault's key files (checked with `fstat` on the open descriptor). Both files must be non-empty
    /// and at most 4 KiB.
    /// - Throws: ``VaultError/insecureKeyFile(path:mode:)``, ``VaultError/invalidKeyFile(path:)`` (empty or too
    ///   large), ``VaultError/io(operation:path:errno:)``, and what ``init(endpoint:region:bucket:prefix:accessKeyID:secretAccessKey:requestTimeout:maxObjectBytes:)`` throws.
    public static func load(
        endpoint: URL,
        region: String = "us-east-1",
        bucket: String,
        prefix: String = "",
        accessKeyFile: String,
        secretKeyFile: String,
        requestTimeout: Duration = .seconds(30)
    ) throws -> S3Configuration {
        let accessKeyID = try readCredentialFile(accessKeyFile, secret: false)
        let secretAccessKey = try readCredentialFile(secretKeyFile, secret: true)
        return try S3Configuration(
            endpoint: endpoint,
            region: region,
            bucket: bucket,
            prefix: prefix,
            accessKeyID: accessKeyID,
            secretAccessKey: secretAccessKey,
            requestTimeout: requestTimeout
        )
    }

    /// Reads a one-line credential file; when `secret`, refuses group/other permission bits.
    static func readCredentialFile(_ path: String, secret: Bool) throws -> String {
        try KeyFile.readText(path: path, secret: secret)
    }

    static func isLowerAlnum(_ b: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b)
    }

    static func isKeyCharacter(_ b: UInt8) -> Bool {
        isLowerAlnum(b) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(b)
            || [UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "/")].contains(
                b
            )
    }

    public var description: String {
        "S3Configuration(endpoint: \(endpoint.absoluteString), region: \(region), bucket: \(bucket), "
            + "prefix: \(prefix), accessKeyID: \(accessKeyID), secretAccessKey: <redacted>)"
    }
    public var debugDescription: String { description }
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "endpoint": endpoint, "region": region, "bucket": bucket, "prefix": prefix, "accessKeyID": accessKeyID,
            ]
        )
    }
}
