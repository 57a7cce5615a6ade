public import ConfideClinic
public import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Makes MediaRecorder's WebM seekable by remuxing it with ffmpeg (`-c copy`: no re-encoding), so
/// that the output has a duration and cues.
///
/// The media streams in: one chunk at a time is read from the vault and written to ffmpeg's stdin
/// (blocking writes run on a dispatch queue of their own, off Swift's cooperative threads), and the
/// output is handed back in pieces. Only ffmpeg's output is held whole, in the memfd, because the
/// muxer writes the cues at the end.
///
/// INVARIANT: plaintext media never touches disk. ffmpeg reads the media from a pipe and writes to
/// an anonymous in-memory file (`memfd_create`; its output must be seekable for the muxer to write
/// the cues at the end), which this process reads back and closes; nothing is ever named in a file system.
/// `+bitexact` makes the output depend on the input only, so two instances remuxing the same segment
/// at once store the same bytes.
public struct FFmpegRemuxer: MediaRemuxer {
    public let executable: String
    public let timeoutSeconds: Double

    public init(executable: String, timeoutSeconds: Double = 300) {
        self.executable = executable
        self.timeoutSeconds = timeoutSeconds
    }

    /// The first `ffmpeg` on the usual paths, if any.
    public static func find() -> FFmpegRemuxer? {
        for path in ["/usr/bin/ffmpeg", "/usr/local/bin/ffmpeg"] where FileManager.default.isExecutableFile(atPath: path) {
            return FFmpegRemuxer(executable: path)
        }
        return nil
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// An anonymous in-memory file.
    static func anonymousFile() throws -> Int32 {
        typealias MemfdCreate = @convention(c) (UnsafePointer<CChar>, UInt32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "memfd_create") else {
            throw Failure(description: "memfd_create is not available")
        }
        let create = unsafeBitCast(symbol, to: MemfdCreate.self)
        let fd = create("confide-remux", 0)
        guard fd >= 0 else { throw Failure(description: "memfd_create failed (errno \(errno))") }
        return fd
    }

    /// Writing to a pipe whose reader has gone raises SIGPIPE, which would end the server; with it
    /// ignored the write fails with EPIPE instead (ffmpeg stops reading when the media is bad).
    static let ignoreBrokenPipes: Void = {
        #if canImport(Glibc)
            _ = signal(SIGPIPE, SIG_IGN)
        #endif
    }()

    /// Writes `piece` to the pipe on `queue` (a blocking write, off the cooperative pool): false once
    /// the reader has stopped reading.
    static func feed(_ piece: Data, to pipe: FileHandle, on queue: DispatchQueue) async -> Bool {
        await withCheckedContinuation { done in
            queue.async {
                do {
                    try pipe.write(contentsOf: piece)
                    done.resume(returning: true)
                } catch {
                    done.resume(returning: false)
                }
            }
        }
    }

    public func remux<Input: AsyncSequence>(
        _ input: Input, contentType: String, pieceSize: Int, output: (_ piece: Data, _ last: Bool) async throws -> Void
    ) async throws -> Int64 where Input.Element == Data {
        _ = Self.ignoreBrokenPipes
        let fd = try Self.anonymousFile()
        let result = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        // /proc/self/fd/1 opens ffmpeg's own stdout (the memfd) as a seekable file.
        process.arguments = [
            "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "webm", "-i", "pipe:0", "-map", "0", "-c", "copy", "-fflags", "+bitexact", "-f", "webm", "-y",
            "/proc/self/fd/1",
        ]
        let pipe = Pipe()
        process.standardInput = pipe
        process.standardOutput = result
        process.standardError = FileHandle.nullDevice
        let finished = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { p in
            finished.continuation.yield(p.terminationStatus)
            finished.continuation.finish()
        }
        try process.run()
        let timeout = Task {
            try await Task.sleep(for: .seconds(timeoutSeconds))
            process.terminate()
        }
        defer { timeout.cancel() }
        // One piece of input at a time: read (and checked) from the vault, then written to the pipe.
        let writer = pipe.fileHandleForWriting
        let queue = DispatchQueue(label: "confide.remux.feed")
        // When ffmpeg stops early (bad media), the rest is still read, and so checked: a damaged
        // segment is reported as damaged rather than as media ffmpeg could not read.
        var reading = true
        do {
            for try await piece in input where reading {
                reading = await Self.feed(piece, to: writer, on: queue)
            }
        } catch {
            process.terminate()
            try? writer.close()
            for await _ in finished.stream {}
            throw error
        }
        try? writer.close()
        var status: Int32 = -1
        for await s in finished.stream { status = s }
        guard status == 0 else { throw Failure(description: "ffmpeg exited with status \(status)") }
        // The whole output exists; hand it over piece by piece.
        let total = Int64(lseek(fd, 0, SEEK_END))
        guard total > 0, lseek(fd, 0, SEEK_SET) == 0 else { return 0 }
        var offset: Int64 = 0
        while offset < total {
            let count = Int(min(Int64(pieceSize), total - offset))
            guard let piece = try result.read(upToCount: count), piece.count == count else {
                throw Failure(description: "short read of the remuxed media")
            }
            offset += Int64(count)
            try await output(piece, offset == total)
        }
        return total
    }
}
