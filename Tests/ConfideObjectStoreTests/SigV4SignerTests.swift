import ConfideObjectStore
import ConfideVault
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Vectors published by AWS; the expected values are copied from its documentation, never computed here.
@Suite("AWS Signature Version 4")
struct SigV4SignerTests {
    /// "Examples of how to derive a signing key for Signature Version 4" (AWS General Reference):
    /// secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20120215, us-east-1, iam.
    @Test("the signing key derivation matches AWS's example")
    func signingKey() {
        let key = SigV4Signer.signingKey(
            secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            dateStamp: "20120215",
            region: "us-east-1",
            service: "iam"
        )
        #expect(hex(key) == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d")
    }

    /// Amazon S3 API Reference, "Signature Calculations for the Authorization Header: Transferring Payload in a
    /// Single Chunk", Example: GET Object (first 10 bytes of test.txt in examplebucket, 2013-05-24).
    @Test("the S3 GET Object example: canonical request, string to sign, signature, Authorization header")
    func s3GetObjectExample() {
        let signer = SigV4Signer(
            accessKeyID: "AKIAIOSFODNN7EXAMPLE",
            secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            region: "us-east-1",
            service: "s3"
        )
        let result = signer.sign(
            method: "GET",
            path: "/test.txt",
            headers: [
                (name: "Host", value: "examplebucket.s3.amazonaws.com"),
                (name: "Range", value: "bytes=0-9"),
                (name: "x-amz-content-sha256", value: SigV4Signer.emptyPayloadSHA256),
                (name: "x-amz-date", value: "20130524T000000Z"),
            ],
            payloadSHA256: SigV4Signer.emptyPayloadSHA256,
            date: Date(timeIntervalSince1970: 1_369_353_600)
        )
        #expect(
            result.canonicalRequest == """
                GET
                /test.txt

                host:examplebucket.s3.amazonaws.com
                range:bytes=0-9
                x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                x-amz-date:20130524T000000Z

                host;range;x-amz-content-sha256;x-amz-date
                e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                """
        )
        #expect(
            result.stringToSign == """
                AWS4-HMAC-SHA256
                20130524T000000Z
                20130524/us-east-1/s3/aws4_request
                7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972
                """
        )
        #expect(result.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(
            result.authorization
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
                + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        )
    }

    /// AWS Signature Version 4 test suite, `get-vanilla-query-order-key-case`: query parameters are sorted.
    @Test("the test suite's get-vanilla-query-order-key-case (query sorting)")
    func querySorting() {
        let signer = SigV4Signer(
            accessKeyID: "AKIDEXAMPLE",
            secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            region: "us-east-1",
            service: "service"
        )
        let result = signer.sign(
            method: "GET",
            path: "/",
            query: [(name: "Param2", value: "value2"), (name: "Param1", value: "value1")],
            headers: [(name: "Host", value: "example.amazonaws.com"), (name: "X-Amz-Date", value: "20150830T123600Z")],
            payloadSHA256: SigV4Signer.emptyPayloadSHA256,
            date: Date(timeIntervalSince1970: 1_440_938_160)
        )
        #expect(result.signedHeaders == "host;x-amz-date")
        #expect(result.signature == "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")
    }

    @Test("URI encoding follows AWS's rules: unreserved kept, the rest %XX upper case, '/' only in paths")
    func encoding() {
        #expect(SigV4Signer.uriEncode("a b/c~d-e_f.g", keepSlash: true) == "a%20b/c~d-e_f.g")
        #expect(SigV4Signer.uriEncode("a/b+c=d&e", keepSlash: false) == "a%2Fb%2Bc%3Dd%26e")
        #expect(SigV4Signer.uriEncode("é*", keepSlash: false) == "%C3%A9%2A")
        // S3 paths are encoded once, not twice, and not normalised.
        #expect(SigV4Signer.canonicalURI("/bucket/a%b/../c") == "/bucket/a%25b/../c")
        #expect(SigV4Signer.canonicalURI("") == "/")
        #expect(
            SigV4Signer.canonicalQuery([("prefix", "t/x"), ("list-type", "2"), ("a", "")])
                == "a=&list-type=2&prefix=t%2Fx"
        )
        let stamps = SigV4Signer.timestamps(Date(timeIntervalSince1970: 1_440_938_160))
        #expect(stamps.amzDate == "20150830T123600Z")
        #expect(stamps.dateStamp == "20150830")
    }

    @Test("neither the signer nor the configuration shows the secret")
    func redaction() throws {
        let secret = "s3cr3t-VALUE-that-must-not-leak"
        let signer = SigV4Signer(accessKeyID: "AKID", secretAccessKey: secret)
        let configuration = try S3Configuration(
            endpoint: URL(string: "http://127.0.0.1:9000")!,
            bucket: "confide",
            accessKeyID: "AKID",
            secretAccessKey: secret
        )
        for value in [signer as Any, configuration as Any] {
            var dumped = ""
            dump(value, to: &dumped)
            #expect(!dumped.contains(secret))
            #expect(!String(describing: value).contains(secret))
            #expect(!String(reflecting: value).contains(secret))
        }
        let result = signer.sign(
            method: "GET",
            path: "/",
            headers: [(name: "host", value: "h"), (name: "x-amz-date", value: "20150830T123600Z")],
            payloadSHA256: SigV4Signer.emptyPayloadSHA256,
            date: Date(timeIntervalSince1970: 1_440_938_160)
        )
        #expect(!result.authorization.contains(secret) && !result.canonicalRequest.contains(secret))
    }
}

@Suite("S3 configuration")
struct S3ConfigurationTests {
    func write(_ text: String, mode: mode_t, in dir: String, name: String) throws -> String {
        let path = "\(dir)/\(name)"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        #expect(chmod(path, mode) == 0)
        return path
    }

    @Test("credentials come from files: trimmed, non-empty, the secret file private")
    func load() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("confide-s3-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let endpoint = URL(string: "http://127.0.0.1:8333")!
        let access = try write("  AKIDEXAMPLE\n", mode: 0o644, in: dir, name: "access")
        let secret = try write("secret-key\n", mode: 0o600, in: dir, name: "secret")
        let configuration = try S3Configuration.load(
            endpoint: endpoint,
            bucket: "confide",
            prefix: "rec/",
            accessKeyFile: access,
            secretKeyFile: secret
        )
        #expect(configuration.accessKeyID == "AKIDEXAMPLE")
        #expect(configuration.region == "us-east-1")
        #expect(configuration.prefix == "rec/")

        for mode: mode_t in [0o644, 0o640, 0o604, 0o660] {
            let loose = try write("secret-key\n", mode: mode, in: dir, name: "loose-\(mode)")
            #expect(throws: VaultError.insecureKeyFile(path: loose, mode: UInt32(mode))) {
                try S3Configuration.load(
                    endpoint: endpoint,
                    bucket: "confide",
                    accessKeyFile: access,
                    secretKeyFile: loose
                )
            }
        }
        let empty = try write(" \n", mode: 0o600, in: dir, name: "empty")
        #expect(throws: VaultError.invalidKeyFile(path: empty)) {
            try S3Configuration.load(endpoint: endpoint, bucket: "confide", accessKeyFile: access, secretKeyFile: empty)
        }
        #expect(throws: VaultError.invalidKeyFile(path: empty)) {
            try S3Configuration.load(endpoint: endpoint, bucket: "confide", accessKeyFile: empty, secretKeyFile: secret)
        }
        #expect(throws: VaultError.self) {
            try S3Configuration.load(
                endpoint: endpoint,
                bucket: "confide",
                accessKeyFile: access,
                secretKeyFile: "\(dir)/missing"
            )
        }
    }

    @Test("bad endpoints, buckets, prefixes and empty credentials are refused")
    func validation() {
        func make(
            _ endpoint: String = "http://127.0.0.1:8333",
            bucket: String = "confide",
            prefix: String = "",
            access: String = "a",
            secret: String = "s"
        ) throws {
            _ = try S3Configuration(
                endpoint: URL(string: endpoint)!,
                bucket: bucket,
                prefix: prefix,
                accessKeyID: access,
                secretAccessKey: secret
            )
        }
        #expect(throws: Never.self) { try make(prefix: "recordings/v1/") }
        #expect(throws: VaultError.self) { try make("ftp://127.0.0.1/") }
        #expect(throws: VaultError.self) { try make(bucket: "No_Such") }
        #expect(throws: VaultError.self) { try make(bucket: "ab") }
        #expect(throws: VaultError.self) { try make(prefix: "/abs") }
        #expect(throws: VaultError.self) { try make(prefix: "a b/") }
        #expect(throws: VaultError.self) { try make(access: "") }
        #expect(throws: VaultError.self) { try make(secret: "") }
    }
}

func hex(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}
