// confide-vaultbench: the vault's seal and open throughput (issue 6 item 8), reported as MB/s (10^6
// bytes) on one core for a given chunk size, so scripts/bench-vault can set it beside
// `openssl speed -evp aes-256-gcm` measured in the same run. Also the filesystem blob store's
// durable put (seal + write + fsync + rename + directory fsync) per chunk.
//
//   confide-vaultbench [--bytes N] [--total-mib M] [--dir DIR]   -> one JSON object on stdout

import ConfideVault
import Crypto
import Foundation

var chunkBytes = 1 << 20
var totalMiB = 512
var directory: String?
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--bytes": chunkBytes = Int(arguments.popFirst() ?? "") ?? chunkBytes
    case "--total-mib": totalMiB = Int(arguments.popFirst() ?? "") ?? totalMiB
    case "--dir": directory = arguments.popFirst()
    default:
        FileHandle.standardError.write(Data("usage: confide-vaultbench [--bytes N] [--total-mib M] [--dir DIR]\n".utf8))
        exit(2)
    }
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

let key = RecordingKey()
var plaintext = Data(count: chunkBytes)
plaintext.withUnsafeMutableBytes { buffer in
    for i in 0..<buffer.count { buffer[i] = UInt8(truncatingIfNeeded: i &* 31 &+ 7) }
}
let count = max(1, (totalMiB << 20) / chunkBytes)
let clock = ContinuousClock()

// Warm up, then seal `count` chunks.
var sealed: [Data] = []
sealed.reserveCapacity(min(count, 64))
for i in 0..<8 { _ = try ChunkSealer.seal(plaintext, recording: "bench", segment: 0, index: i, final: false, key: key) }
var started = clock.now
for i in 0..<count {
    let s = try ChunkSealer.seal(plaintext, recording: "bench", segment: 0, index: i, final: false, key: key)
    if i < 64 { sealed.append(s) }
}
let sealSeconds = seconds(clock.now - started)

// Open: the first 64 sealed chunks, round and round.
started = clock.now
var opened = 0
for i in 0..<count {
    let j = i % sealed.count
    let p = try ChunkSealer.open(sealed[j], recording: "bench", segment: 0, index: j, final: false, key: key)
    opened &+= p.count
}
let openSeconds = seconds(clock.now - started)
precondition(opened == count * chunkBytes)

var result: [String: Any] = [
    "chunk_bytes": chunkBytes, "chunks": count,
    "seal_mb_s": Double(count * chunkBytes) / sealSeconds / 1e6,
    "open_mb_s": Double(count * chunkBytes) / openSeconds / 1e6,
]

// Durable puts into a FileBlobStore (what an upload does after HTTP and the SHA-256 check).
if let directory {
    let store = try FileBlobStore(root: directory)
    let naming = try NamingKey(SymmetricKey(size: .bits256))
    let puts = min(count, max(16, (256 << 20) / chunkBytes))
    started = clock.now
    for i in 0..<puts {
        let s = try ChunkSealer.seal(plaintext, recording: "bench", segment: 1, index: i, final: false, key: key)
        try await store.put(name: try BlobName(recording: "bench", segment: 1, index: i, naming: naming), data: s)
    }
    let putSeconds = seconds(clock.now - started)
    result["durable_put_mb_s"] = Double(puts * chunkBytes) / putSeconds / 1e6
    result["durable_puts"] = puts
}

let json = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
print(String(decoding: json, as: UTF8.self))
