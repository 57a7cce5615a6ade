"""The recording crash drill: SIGKILL the server at random points while three clinicians upload
recordings, restart it, and check afterwards that no acknowledged chunk was lost, that every
recording plays exactly the bytes that were acknowledged (never corrupted ones), that each is
visible only to its own patient, and that `confide audit verify` passes.

Used by tests/e2e/test_recording_crash.py (a CI-sized run) and scripts/crash-recordings (many kills)."""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import random
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

from helpers import DEMO_PASSWORD, PASSWORD, demo_totp_uri, fresh_totp

REPO = Path(__file__).resolve().parents[2]
BIN = os.environ.get("CONFIDE_BIN", str(REPO / ".build" / "debug" / "confide"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Instance:
    """One `confide serve --demo` on a data directory, killed and restarted at will."""

    def __init__(self, data: Path, database_url: str | None) -> None:
        self.data = data
        self.database_url = database_url
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = data.parent / f"{data.name}-crash-{uuid.uuid4().hex[:6]}.log"
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.extra: list[str] = []
        # Extra environment (e.g. CONFIDE_TEST_FAULTS for a drill).
        self.env: dict[str, str] = {}

    def args(self) -> list[str]:
        cmd = [BIN, "serve", "--demo", "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", str(self.data),
               "--call-opens-minutes-before", "20160"]
        return cmd + (["--database-url", self.database_url] if self.database_url else []) + self.extra

    def start(self, timeout: float = 90) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONFIDE_") and k != "DATABASE_URL"}
        env.update({"CONFIDE_RECORDING_JOB_SECONDS": "1", "CONFIDE_AUDIT_CHECKPOINT_SECONDS": "1"})
        env.update(self.env)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.args(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode} on start {self.starts}:\n{self.tail()}")
            try:
                if requests.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server did not start within {timeout} s:\n{self.tail()}")

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=20)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Upload:
    patient: dict
    consultation: str
    recording: str
    chunks: list[bytes]
    acked: set[int] = field(default_factory=set)
    # Stored, but the acknowledgement never reached the client (killed between commit and response).
    unseen: set[int] = field(default_factory=set)


def _call(base: str, token: str, method: str, path: str, body=None, **kw) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.request(method, base + path, json=body, headers=headers, timeout=kw.get("timeout", 15))


def _patient(base: str) -> dict:
    email = f"crash-{uuid.uuid4().hex[:10]}@example.com"
    r = requests.post(base + "/api/v1/accounts", json={
        "email": email, "password": PASSWORD, "given_name": "Crash", "family_name": "Drill-" + uuid.uuid4().hex[:6],
        "birth_date": "1970-01-01"}, timeout=30)
    assert r.status_code == 201, r.text
    s = requests.post(base + "/api/v1/sessions", json={"email": email, "password": PASSWORD}, timeout=30)
    assert s.status_code == 201, s.text
    return {"token": s.json()["token"], "patient_id": r.json().get("patient_id")}


def _setup(inst: Instance, gp: str, n: int, chunks: int, chunk_size: int, rng: random.Random) -> list[Upload]:
    base = inst.base
    practices = _call(base, gp, "GET", "/api/v1/practices").json()["practices"]
    riverside = next(p["id"] for p in practices if p["name"] == "Riverside Medical Centre")
    uploads = []
    for _ in range(n):
        p = _patient(base)
        assert _call(base, p["token"], "PUT", "/api/v1/me/practice", {"practice_id": riverside}).status_code == 204
        slots = _call(base, p["token"], "GET", "/api/v1/slots?role=gp&modality=video&days=14&limit=20").json()["slots"]
        for slot in slots:
            r = _call(base, p["token"], "POST", "/api/v1/consultations",
                      {"clinician_id": slot["clinician_id"], "start": slot["start"], "modality": "video"})
            if r.status_code == 201:
                break
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
        consent = _call(base, gp, "POST", f"/api/v1/consultations/{cid}/recording-consents").json()["id"]
        assert _call(base, p["token"], "POST", f"/api/v1/consultations/{cid}/recording-consents/{consent}/answer",
                     {"consent": True}).status_code == 200
        r = _call(base, gp, "POST", f"/api/v1/consultations/{cid}/recordings", {"mode": "audio"})
        assert r.status_code == 201, r.text
        data = [rng.randbytes(chunk_size) for _ in range(chunks)]
        uploads.append(Upload(patient=p, consultation=cid, recording=r.json()["id"], chunks=data))
    return uploads


def _put(base: str, gp: str, up: Upload, i: int) -> requests.Response:
    body = up.chunks[i]
    # Well above the server's wait for an early chunk's predecessors (10 s).
    return requests.put(f"{base}/api/v1/recordings/{up.recording}/segments/0/chunks/{i}", data=body, timeout=25,
                        headers={"Authorization": f"Bearer {gp}", "Content-Type": "application/octet-stream",
                                 "X-Content-SHA256": hashlib.sha256(body).hexdigest()})


def _window_uploader(base: str, gp: str, up: Upload, stop: threading.Event, errors: list[str], window: int = 4) -> None:
    """Keeps `window` chunks in flight at once (the server lets an early chunk wait for its
    predecessors); after any failure, asks the server how many it holds and goes on from there."""
    i = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=window) as pool:
        while i < len(up.chunks) and not stop.is_set():
            batch = list(range(i, min(i + window, len(up.chunks))))
            futures = {k: pool.submit(_put, base, gp, up, k) for k in batch}
            failed = False
            for k, f in futures.items():
                try:
                    r = f.result()
                except requests.RequestException:
                    failed = True
                    continue
                if r.status_code in (200, 201):
                    up.acked.add(k)
                elif r.status_code >= 500 or (r.status_code == 409 and "chunk-gap" in r.text):
                    failed = True
                else:
                    errors.append(f"chunk {k} of {up.recording}: {r.status_code} {r.text}")
                    return
            if not failed:
                i = batch[-1] + 1
                continue
            time.sleep(0.2)
            stored = _resume(base, gp, up, i)
            up.unseen.update(k for k in range(i, stored) if k not in up.acked)
            if _lost(up, stored, errors):
                return
            i = max(i, stored)


def _lost(up: Upload, stored: int, errors: list[str]) -> bool:
    """An acknowledged chunk is never above what the server holds (rows go in order): else it was lost."""
    lost = sorted(k for k in up.acked if k >= stored)
    if lost:
        errors.append(f"{up.recording}: acknowledged {lost} but the server holds {stored}")
    return bool(lost)


def _uploader(base: str, gp: str, up: Upload, stop: threading.Event, errors: list[str]) -> None:
    """Sends the chunks in order; after a failure, asks the server how many it holds and goes on from there."""
    i = 0
    while i < len(up.chunks) and not stop.is_set():
        try:
            r = _put(base, gp, up, i)
        except requests.RequestException:
            time.sleep(0.2)
            stored = _resume(base, gp, up, i)
            if _lost(up, stored, errors):
                return
            up.unseen.update(range(i, stored))
            i = stored
            continue
        if r.status_code in (200, 201):
            up.acked.add(i)
            i += 1
        elif r.status_code >= 500 or r.status_code == 503:
            time.sleep(0.2)
        elif r.status_code == 409 and "chunk-gap" in r.text:
            stored = _resume(base, gp, up, i)
            if _lost(up, stored, errors):
                return
            up.unseen.update(range(i, stored))
            i = stored
        else:
            errors.append(f"chunk {i} of {up.recording}: {r.status_code} {r.text}")
            return


def _resume(base: str, gp: str, up: Upload, current: int) -> int:
    """How many chunks the server holds; raises (rather than guess) when it does not answer."""
    for _ in range(300):
        try:
            r = _call(base, gp, "GET", f"/api/v1/recordings/{up.recording}", timeout=5)
            if r.status_code == 200:
                return r.json()["segments"][0]["chunks"]
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server did not say how many chunks of {up.recording} it holds (from {current})")


def run_drill(tmp: Path, kills: int, database_url: str | None = None, recordings: int = 3, chunks: int = 60,
              chunk_size: int = 24 * 1024, seed: int = 20201126) -> dict:
    """`database_url`: a PostgreSQL database of the drill's own (the server seeds the demo into it);
    `None`: SQLite in the drill's data directory."""
    rng = random.Random(seed)
    data = tmp / "crash-data"
    inst = Instance(data, database_url)
    inst.start()
    try:
        gp_email = "sarah.okafor@demo.confide.test"
        s = requests.post(inst.base + "/api/v1/sessions", timeout=30, json={
            "email": gp_email, "password": DEMO_PASSWORD, "totp": fresh_totp(demo_totp_uri(inst.tail(400), gp_email))})
        assert s.status_code == 201, s.text
        gp = s.json()["token"]
        uploads = _setup(inst, gp, recordings, chunks, chunk_size, rng)
        stop, errors = threading.Event(), []
        # The first recording keeps a window of chunks in flight; the others send one at a time.
        def guarded(uploader, up: Upload) -> None:
            try:
                uploader(inst.base, gp, up, stop, errors)
            except Exception as e:  # noqa: BLE001 - reported as the drill's error
                errors.append(f"{up.recording}: {e!r}")

        threads = [threading.Thread(target=guarded, args=(_window_uploader if n == 0 else _uploader, up), daemon=True)
                   for n, up in enumerate(uploads)]
        for t in threads:
            t.start()
        for _ in range(kills):
            time.sleep(rng.uniform(0.05, 0.8))
            inst.kill()
            inst.start()
        deadline = time.monotonic() + 300
        for t in threads:
            t.join(timeout=max(1, deadline - time.monotonic()))
        stop.set()
        assert not errors, errors
        assert all(len(up.acked | up.unseen) == len(up.chunks) for up in uploads), [(len(u.acked), len(u.unseen)) for u in uploads]
        for up in uploads:
            r = _call(inst.base, gp, "POST", f"/api/v1/recordings/{up.recording}/finish")
            assert r.status_code == 200, r.text
        # No acknowledged chunk lost; the media is exactly the acknowledged bytes, in order.
        for up in uploads:
            token = up.patient["token"]
            for _ in range(120):
                rec = _call(inst.base, token, "GET", f"/api/v1/recordings/{up.recording}").json()
                if rec["segments"][0].get("prepared"):
                    break
                time.sleep(0.5)
            assert rec["segments"][0]["chunks"] == len(up.chunks), rec
            media = requests.get(f"{inst.base}/api/v1/recordings/{up.recording}/segments/0/media", timeout=60,
                                 headers={"Authorization": f"Bearer {token}"})
            assert media.status_code == 200, media.text
            assert media.content == b"".join(up.chunks), f"recording {up.recording} does not play the acknowledged bytes"
            # Only its own patient sees it.
            for other in uploads:
                if other is up:
                    continue
                t2 = other.patient["token"]
                ids = [x["id"] for x in _call(inst.base, t2, "GET", "/api/v1/recordings").json()["recordings"]]
                assert ids == [other.recording], (ids, other.recording)
                assert _call(inst.base, t2, "GET", f"/api/v1/recordings/{up.recording}").status_code == 404
                assert requests.get(f"{inst.base}/api/v1/recordings/{up.recording}/segments/0/media", timeout=30,
                                    headers={"Authorization": f"Bearer {t2}"}).status_code == 404
    finally:
        inst.stop()
    verify = subprocess.run([BIN, "audit", "verify", "--demo", "--data-dir", str(data)]
                            + (["--database-url", database_url] if database_url else []),
                            capture_output=True, text=True, timeout=600)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    return {"kills": kills, "starts": inst.starts, "chunks": sum(len(u.chunks) for u in uploads),
            "acknowledged_unseen": sum(len(u.unseen) for u in uploads), "verify": verify.stdout.strip()}
