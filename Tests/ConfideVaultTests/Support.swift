import ConfideVault
import Crypto
import Foundation
import PropertyBased

/// A fresh directory under the system temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("confide-vault-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// Every regular file below, recursively.
    func allFiles() -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: path)
        var out: [String] = []
        while let relative = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let full = "\(path)/\(relative)"
            if FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue {
                out.append(full)
            }
        }
        return out
    }
}

func makeRing() throws -> KeyRing {
    try KeyRing(current: KeyEncryptionKey(SymmetricKey(size: .bits256)), naming: NamingKey(SymmetricKey(size: .bits256)))
}

let bytesGen = Gen.uint8().array(of: 0...600).map { Data($0) }
let recordingGen = Gen.element(of: ["rec-1", "rec-2", "", "a", "rec-1\u{0}", "é", UUID().uuidString.lowercased()])
    .map { $0 ?? "" }

extension Data {
    /// Whether `needle` occurs anywhere in these bytes.
    func containsBytes(_ needle: Data) -> Bool {
        guard !needle.isEmpty else { return true }
        return range(of: needle) != nil
    }
}
