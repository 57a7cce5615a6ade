public import ConfideClinic
public import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Makes MediaRecorder's WebM seekable by remuxing it with ffmpeg (`-c copy`: no re-encoding), so
/// that the output has a duration and cues.
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

    public func remux(_ media: Data, contentType: String) async throws -> Data {
        let fd = try Self.anonymousFile()
        let output = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        // /proc/self/fd/1 opens ffmpeg's own stdout (the memfd) as a seekable file.
        process.arguments = [
            "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "webm", "-i", "pipe:0", "-map", "0", "-c", "copy", "-fflags", "+bitexact", "-f", "webm", "-y",
            "/proc/self/fd/1",
        ]
        let input = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        let finished = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { p in
            finished.continuation.yield(p.terminationStatus)
            finished.continuation.finish()
        }
        try process.run()
        // Feed the pipe on a thread of its own (a full pipe blocks until ffmpeg reads).
        let writer = input.fileHandleForWriting
        let feeding = Task.detached {
            try? writer.write(contentsOf: media)
            try? writer.close()
        }
        let timeout = Task {
            try await Task.sleep(for: .seconds(timeoutSeconds))
            process.terminate()
        }
        var status: Int32 = -1
        for await s in finished.stream { status = s }
        timeout.cancel()
        await feeding.value
        guard status == 0 else { throw Failure(description: "ffmpeg exited with status \(status)") }
        try output.seek(toOffset: 0)
        return try output.readToEnd() ?? Data()
    }
}
