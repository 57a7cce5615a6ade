"""The vault benchmark (issue 6 item 8), driven by scripts/bench-vault. Every figure is set beside a
baseline measured in the same run:

1. seal / open MB/s of 1 MiB chunks (confide-vaultbench) against `openssl speed -evp aes-256-gcm`
   for 1 MiB blocks (goal: >= 50%);
2. end-to-end upload (HTTP PUT -> SHA-256 check -> seal -> durable write -> acknowledged row) of
   N MiB in 1 MiB chunks against `dd ... conv=fdatasync` of the same bytes, read from a file in
   memory, into the same directory (goal: >= 70%), by one curl client keeping a window of chunks in
   flight (--window, default 4; the server lets an early chunk wait for its predecessors), and by
   the same client one at a time;
3. 100 concurrent playback streams of one recording (decrypted on the fly, each a ranged GET per
   MiB as a player does) against one stream alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
import crash_drill  # noqa: E402
from crash_drill import Instance  # noqa: E402
from helpers import DEMO_PASSWORD, PASSWORD, demo_totp_uri, fresh_totp  # noqa: E402


def openssl_mb_s(seconds: int, algorithm: str = "aes-256-gcm") -> float:
    out = subprocess.run(["openssl", "speed", "-evp", algorithm, "-bytes", str(1 << 20), "-seconds", str(seconds)],
                         capture_output=True, text=True, check=True).stdout
    # The last line: "AES-256-GCM  <n>k" (or "sha256 <n>k") in 1000s of bytes per second.
    line = [l for l in out.splitlines() if l.lower().startswith(algorithm)][-1]
    value = re.findall(r"([\d.]+)k", line)[-1]
    return float(value) * 1000 / 1e6


def same_bytes(chunks: list[bytes], mib: int) -> Path:
    """The upload's bytes (chunk i is chunks[i % 16]) in a file in memory (/dev/shm), so dd reads
    them at memory speed, as the server receives them from a socket: the baseline is the write."""
    source = Path(tempfile.mkstemp(prefix="confide-bench-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None)[1])
    with source.open("wb") as f:
        for i in range(mib):
            f.write(chunks[i % len(chunks)])
    return source


def dd_mb_s(source: Path, directory: Path, mib: int, flag: str) -> float:
    """`dd if=SOURCE of=DIRECTORY/file bs=1M FLAG`: conv=fdatasync (one sync at the end), or
    oflag=dsync (a sync after every 1 MiB block, as every acknowledged chunk needs). Best of three."""
    target = directory / "dd-baseline.bin"
    best = 0.0
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(["dd", f"if={source}", f"of={target}", "bs=1M", f"count={mib}", flag, "status=none"], check=True)
        best = max(best, mib * (1 << 20) / (time.perf_counter() - started) / 1e6)
        target.unlink()
    return best


def discard_sink(port: int) -> None:
    """A plain HTTP/1.1 server that reads each request body into memory and throws it away, answering
    201: the cheapest server the upload client can talk to. Its throughput is the ceiling of an HTTP
    upload on this machine (the client, loopback and a read of every byte), before any work."""
    import socket

    def handle(conn: socket.socket) -> None:
        buf = b""
        body = bytearray(16 << 20)
        view = memoryview(body)
        with conn:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                length = next((int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")), 0)
                got = min(len(buf), length)
                buf = buf[got:]
                while got < length:
                    n = conn.recv_into(view[: min(length - got, len(body))])
                    if n == 0:
                        return
                    got += n
                conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}")

    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(64)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def call(base: str, token: str, method: str, path: str, body=None) -> requests.Response:
    return requests.request(method, base + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--vaultbench", required=True)
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--streams", type=int, default=100)
    ap.add_argument("--window", type=int, default=4)
    ap.add_argument("--big-chunk-mib", type=int, default=4, choices=[2, 4, 8],
                    help="a third upload of the same bytes in chunks of this many MiB (what the per-request cost weighs)")
    ap.add_argument("--out")
    ap.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sink:
        discard_sink(args.sink)
        return
    # crash_drill reads CONFIDE_BIN when it is imported, before these arguments are parsed: set its
    # binary here, or the upload and playback figures measure the debug build.
    os.environ["CONFIDE_BIN"] = args.bin
    crash_drill.BIN = args.bin
    rows: list[tuple[str, str, str, str]] = []

    # 1. Seal / open against openssl.
    ossl = openssl_mb_s(3)
    vb = json.loads(subprocess.run([args.vaultbench, "--total-mib", "1024"], capture_output=True, text=True, check=True).stdout)
    rows.append(("Seal, 1 MiB chunks (one core)", f"{vb['seal_mb_s']:.0f} MB/s", f"openssl speed aes-256-gcm: {ossl:.0f} MB/s",
                 f"{vb['seal_mb_s'] / ossl:.2f} (goal >= 0.50)"))
    rows.append(("Open, 1 MiB chunks (one core)", f"{vb['open_mb_s']:.0f} MB/s", f"openssl speed aes-256-gcm: {ossl:.0f} MB/s",
                 f"{vb['open_mb_s'] / ossl:.2f} (goal >= 0.50)"))

    with tempfile.TemporaryDirectory(dir=os.environ.get("CONFIDE_BENCH_DIR")) as tmp:
        tmp_path = Path(tmp)
        # 2. End-to-end upload against dd.
        inst = Instance(tmp_path / "data", None)
        inst.start()
        try:
            base = inst.base
            email = "sarah.okafor@demo.confide.test"
            gp = requests.post(base + "/api/v1/sessions", timeout=30, json={
                "email": email, "password": DEMO_PASSWORD, "totp": fresh_totp(demo_totp_uri(inst.tail(400), email))}).json()["token"]
            mail = f"bench-{os.getpid()}@example.com"
            assert requests.post(base + "/api/v1/accounts", timeout=30, json={
                "email": mail, "password": PASSWORD, "given_name": "Bench", "family_name": "Mark", "birth_date": "1980-01-01"}).status_code == 201
            patient = requests.post(base + "/api/v1/sessions", json={"email": mail, "password": PASSWORD}, timeout=30).json()["token"]
            practices = call(base, patient, "GET", "/api/v1/practices").json()["practices"]
            riverside = next(p["id"] for p in practices if p["name"] == "Riverside Medical Centre")
            call(base, patient, "PUT", "/api/v1/me/practice", {"practice_id": riverside})
            slot = call(base, patient, "GET", "/api/v1/slots?role=gp&modality=video&days=14&limit=1").json()["slots"][0]
            cid = call(base, patient, "POST", "/api/v1/consultations",
                       {"clinician_id": slot["clinician_id"], "start": slot["start"], "modality": "video"}).json()["id"]
            consent = call(base, gp, "POST", f"/api/v1/consultations/{cid}/recording-consents").json()["id"]
            call(base, patient, "POST", f"/api/v1/consultations/{cid}/recording-consents/{consent}/answer", {"consent": True})
            rid = call(base, gp, "POST", f"/api/v1/consultations/{cid}/recordings", {"mode": "video"}).json()["id"]
            chunks = [os.urandom(1 << 20) for _ in range(16)]
            digests = [hashlib.sha256(c).hexdigest() for c in chunks]
            shm = Path("/dev/shm") if Path("/dev/shm").is_dir() else tmp_path
            chunk_files = []
            for k, c in enumerate(chunks):
                f = shm / f"confide-bench-{os.getpid()}-{k}"
                f.write_bytes(c)
                chunk_files.append(f)
            big = args.big_chunk_mib
            big_files, big_digests = [], []
            for k in range(16 // big):
                data = b"".join(chunks[k * big:(k + 1) * big])
                f = shm / f"confide-bench-{os.getpid()}-big-{k}"
                f.write_bytes(data)
                big_files.append(f)
                big_digests.append(hashlib.sha256(data).hexdigest())

            def upload_mb_s(segment: int, window: int, size: int = 1, target: str | None = None) -> float:
                """One curl client, `window` chunks in flight (a new one sent as soon as one is
                acknowledged, on reused connections). curl, not Python, so that the client's own CPU
                takes as little as it can of the two cores the server runs on. `size`: MiB per chunk
                (the same bytes in the same order either way)."""
                files, sums = (chunk_files, digests) if size == 1 else (big_files, big_digests)
                count = args.mib // size
                config = tmp_path / f"upload-{segment}.curl"
                lines = []
                for i in range(count):
                    lines += [f'url = "{target or base}/api/v1/recordings/{rid}/segments/{segment}/chunks/{i}"',
                              f'upload-file = "{files[i % len(files)]}"', 'output = "/dev/null"',
                              f'header = "Authorization: Bearer {gp}"', 'header = "Content-Type: application/octet-stream"',
                              f'header = "X-Content-SHA256: {sums[i % len(sums)]}"', 'header = "Expect:"',
                              'write-out = "%{http_code}\\n"', "next"]
                config.write_text("\n".join(lines[:-1]) + "\n")
                command = ["curl", "--silent", "--show-error", "--config", str(config)]
                if window > 1:
                    command[1:1] = ["--parallel", "--parallel-max", str(window)]
                started = time.perf_counter()
                done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
                elapsed = time.perf_counter() - started
                codes = done.stdout.split()
                assert done.returncode == 0 and codes == ["201"] * count, (done.returncode, done.stderr[-500:], codes[:20])
                return count * size * (1 << 20) / elapsed / 1e6

            # Segment 0 one chunk at a time, segment 1 (an audio -> video switch) with the window.
            sequential = upload_mb_s(0, 1)
            assert call(base, gp, "POST", f"/api/v1/recordings/{rid}/segments", {"mode": "audio"}).status_code in (200, 201)
            upload = upload_mb_s(1, args.window)
            assert call(base, gp, "POST", f"/api/v1/recordings/{rid}/segments", {"mode": "video"}).status_code in (200, 201)
            upload_big = upload_mb_s(2, args.window, big)
            # The ceiling: the same client, bytes and window against a server that only reads them.
            sink_port = crash_drill._free_port()
            sink = subprocess.Popen([sys.executable, __file__, "--bin", args.bin, "--vaultbench", args.vaultbench, "--sink", str(sink_port)])
            try:
                for _ in range(100):
                    try:
                        requests.get(f"http://127.0.0.1:{sink_port}/", timeout=1)
                        break
                    except requests.RequestException:
                        time.sleep(0.05)
                transport = upload_mb_s(0, args.window, target=f"http://127.0.0.1:{sink_port}")
            finally:
                sink.kill()
                sink.wait()
            sha = openssl_mb_s(2, "sha256")
            source = same_bytes(chunks, args.mib)
            try:
                dd = dd_mb_s(source, tmp_path / "data", args.mib, "conv=fdatasync")
                dsync = dd_mb_s(source, tmp_path / "data", args.mib, "oflag=dsync")
            finally:
                source.unlink()
                for f in chunk_files + big_files:
                    f.unlink()
            rows.append((f"Upload, {args.mib} x 1 MiB over HTTP, {args.window} in flight (SHA-256, seal, fsync, ack row)", f"{upload:.0f} MB/s",
                         f"dd conv=fdatasync, same bytes, same directory: {dd:.0f} MB/s", f"{upload / dd:.2f} (goal >= 0.70)"))
            rows.append((f"(ceiling) the same curl upload, {args.window} in flight, to a server that only reads each body", f"{transport:.0f} MB/s",
                         f"dd conv=fdatasync: {dd:.0f} MB/s", f"{transport / dd:.2f}"))
            rows.append(("(per-byte work) SHA-256 of 1 MiB, one core", f"openssl speed sha256: {sha:.0f} MB/s",
                         f"dd conv=fdatasync: {dd:.0f} MB/s", f"{sha / dd:.2f}"))
            rows.append(("(the same upload, one chunk at a time)", f"{sequential:.0f} MB/s",
                         f"dd conv=fdatasync: {dd:.0f} MB/s", f"{sequential / dd:.2f}"))
            rows.append((f"(the upload, {args.window} in flight)", f"{upload:.0f} MB/s",
                         f"dd oflag=dsync (a sync per 1 MiB block, as each acknowledged chunk needs): {dsync:.0f} MB/s",
                         f"{upload / dsync:.2f}"))
            rows.append((f"(the same bytes in {args.mib // big} x {big} MiB chunks, {args.window} in flight)", f"{upload_big:.0f} MB/s",
                         f"dd conv=fdatasync: {dd:.0f} MB/s", f"{upload_big / dd:.2f}"))
            assert call(base, gp, "POST", f"/api/v1/recordings/{rid}/finish").status_code == 200

            # 3. Concurrent playback: each stream reads the segment in 1 MiB ranges, as a player does.
            total = args.mib * (1 << 20)

            def stream(results: list, index: int, count: int = 16) -> None:
                s = requests.Session()
                s.headers.update({"Authorization": f"Bearer {patient}"})
                got, t0, first = 0, time.perf_counter(), None
                for k in range(count):
                    a = (k * (1 << 20)) % total
                    r = s.get(f"{base}/api/v1/recordings/{rid}/segments/0/media", headers={"Range": f"bytes={a}-{a + (1 << 20) - 1}"},
                              timeout=120)
                    assert r.status_code == 206 and len(r.content) == 1 << 20, r.status_code
                    first = first or time.perf_counter() - t0
                    got += len(r.content)
                results[index] = (got, time.perf_counter() - t0, first)

            def run(n: int) -> tuple[float, list]:
                results: list = [None] * n
                threads = [threading.Thread(target=stream, args=(results, i)) for i in range(n)]
                t0 = time.perf_counter()
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                wall = time.perf_counter() - t0
                assert all(results), "a stream failed"
                return sum(r[0] for r in results) / wall / 1e6, results

            one, _ = run(1)
            many, results = run(args.streams)
            firsts = sorted(r[2] for r in results)
            p50, p99 = statistics.median(firsts), firsts[min(len(firsts) - 1, int(len(firsts) * 0.99))]
            rows.append((f"Playback, {args.streams} concurrent streams (1 MiB ranges, decrypted)",
                         f"{many:.0f} MB/s total; first range p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms",
                         f"one stream alone: {one:.0f} MB/s", f"{many / one:.2f} of one stream's throughput, all {args.streams} complete"))
        finally:
            inst.stop()

    table = ["| Measure | Confide | Baseline (same run) | Ratio |", "|---|---|---|---|"]
    table += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    text = "\n".join(table) + f"\n\nServer binary: {args.bin}"
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
