import ConfideServer
import Foundation
import Testing

/// The remuxer against the real ffmpeg (installed by scripts/test): media streamed in, output handed
/// back in pieces, and bad media or a failing input never ending the process.
@Suite("ffmpeg remux, streamed", .enabled(if: FFmpegRemuxer.find() != nil, "needs ffmpeg"))
struct FFmpegRemuxerTests {
    struct Generated: Error {}
    struct Broken: Error, Equatable {}

    /// A WebM written to a pipe, as MediaRecorder writes it: no duration and no cues.
    static func liveWebM(seconds: Int) throws -> Data {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: FFmpegRemuxer.find()!.executable)
        p.arguments = [
            "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=duration=\(seconds):size=96x64:rate=15", "-f", "lavfi", "-i",
            "sine=duration=\(seconds)", "-c:v", "libvpx", "-b:v", "300k", "-c:a", "libopus", "-f", "webm", "pipe:1",
        ]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0, !data.isEmpty else { throw Generated() }
        return data
    }

    /// Pieces of `data`, yielded one at a time as they are asked for (and counted), failing with
    /// `Broken` at piece `failAt` if given.
    final class Source: AsyncSequence, @unchecked Sendable {
        typealias Element = Data
        let pieces: [Data]
        let failAt: Int?
        var pulled = 0
        init(_ data: Data, sizes: [Int], failAt: Int? = nil) {
            var pieces: [Data] = []
            var at = data.startIndex
            var i = 0
            while at < data.endIndex {
                let n = Swift.min(sizes[i % sizes.count], data.endIndex - at)
                pieces.append(data[at..<at + n])
                at += n
                i += 1
            }
            self.pieces = pieces
            self.failAt = failAt
        }
        struct AsyncIterator: AsyncIteratorProtocol {
            let source: Source
            mutating func next() async throws -> Data? {
                let i = source.pulled
                if i == source.failAt { throw Broken() }
                guard i < source.pieces.count else { return nil }
                source.pulled += 1
                return source.pieces[i]
            }
        }
        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(source: self) }
    }

    static func contains(_ data: Data, _ id: [UInt8]) -> Bool { data.range(of: Data(id)) != nil }
    static let cues: [UInt8] = [0x1C, 0x53, 0xBB, 0x6B]
    static let duration: [UInt8] = [0x44, 0x89]

    @Test("a live WebM streamed in comes out seekable, in pieces, the same bytes every time")
    func seekable() async throws {
        let remuxer = try #require(FFmpegRemuxer.find())
        let live = try Self.liveWebM(seconds: 3)
        #expect(!Self.contains(live, Self.cues), "the input must lack cues for this test to mean anything")
        var outputs: [Data] = []
        for sizes in [[7_001, 13_000, 2_048], [live.count]] {
            let source = Source(live, sizes: sizes)
            var pieces: [(Data, Bool)] = []
            let total = try await remuxer.remux(source, contentType: "video/webm", pieceSize: 10_000) { piece, last in
                pieces.append((piece, last))
            }
            #expect(source.pulled == source.pieces.count)
            var joined = Data()
            for (piece, _) in pieces { joined.append(piece) }
            #expect(Int64(joined.count) == total)
            #expect(pieces.count == (joined.count + 9_999) / 10_000)
            #expect(pieces.dropLast().allSatisfy { $0.0.count == 10_000 && !$0.1 })
            #expect(pieces.last?.1 == true)
            #expect(Self.contains(joined, Self.cues))
            #expect(Self.contains(joined.prefix(4096), Self.duration))
            outputs.append(joined)
        }
        // +bitexact: the output depends on the input bytes only, however they were cut.
        #expect(outputs[0] == outputs[1])
    }

    @Test("bad media fails the remux, after the whole input was read, and the process lives on")
    func badMedia() async throws {
        let remuxer = try #require(FFmpegRemuxer.find())
        // 6 MiB that is not WebM: ffmpeg exits at once, and writes to its pipe fail (SIGPIPE would
        // end this process if it were not ignored).
        var garbage = Data(count: 6 << 20)
        for i in garbage.indices { garbage[i] = UInt8(truncatingIfNeeded: i &* 2_654_435_761 >> 13) }
        let source = Source(garbage, sizes: [1 << 20])
        var called = false
        await #expect(throws: (any Error).self) {
            _ = try await remuxer.remux(source, contentType: "video/webm", pieceSize: 65_536) { _, _ in called = true }
        }
        #expect(!called)
        #expect(source.pulled == source.pieces.count, "the rest of the input is still read, so a damaged segment is reported as damaged")
    }

    @Test("an input that fails mid-stream ends the remux with that error, before any output")
    func failingInput() async throws {
        let remuxer = try #require(FFmpegRemuxer.find())
        let live = try Self.liveWebM(seconds: 2)
        let source = Source(live, sizes: [4_096], failAt: 3)
        var called = false
        await #expect(throws: Broken.self) {
            _ = try await remuxer.remux(source, contentType: "video/webm", pieceSize: 65_536) { _, _ in called = true }
        }
        #expect(!called)
    }
}
