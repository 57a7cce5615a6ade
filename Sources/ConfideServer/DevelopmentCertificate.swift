import Crypto
public import Foundation
import SwiftASN1
import X509

/// A self-signed certificate for local development over https (browsers allow camera and
/// microphone only on https or localhost). Never for production: use a real CA there.
public enum DevelopmentCertificate {
    /// Makes a P-256 key and a certificate for `localhost`, `127.0.0.1` and `::1`, valid 90 days.
    /// - Returns: the certificate and private key, both PEM.
    public static func make(now: Date = Date()) throws -> (certificatePEM: String, privateKeyPEM: String) {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            CommonName("Confide local development")
            OrganizationName("Confide (development only)")
        }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([.serverAuth])
            SubjectAlternativeNames([
                .dnsName("localhost"),
                .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                .ipAddress(ASN1OctetString(contentBytes: ArraySlice([UInt8](repeating: 0, count: 15) + [1]))),
            ])
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(90 * 86400), issuer: name,
            subject: name, signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions, issuerPrivateKey: .init(key))
        return (try certificate.serializeAsPEM().pemString, key.pemRepresentation)
    }

    /// Writes `cert.pem` and `key.pem` (mode 0600) into `directory`.
    /// - Returns: the two paths.
    public static func write(into directory: String) throws -> (certificate: String, key: String) {
        let (cert, key) = try make()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let certPath = (directory as NSString).appendingPathComponent("cert.pem")
        let keyPath = (directory as NSString).appendingPathComponent("key.pem")
        guard FileManager.default.createFile(atPath: certPath, contents: Data(cert.utf8), attributes: [.posixPermissions: 0o644]),
            FileManager.default.createFile(atPath: keyPath, contents: Data(key.utf8), attributes: [.posixPermissions: 0o600])
        else { throw CocoaError(.fileWriteNoPermission) }
        return (certPath, keyPath)
    }
}
