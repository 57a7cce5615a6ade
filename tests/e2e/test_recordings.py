"""Recordings over HTTP against the real server (docs/design/recordings.md): consent, the resumable
chunk upload with real WebM media (made with ffmpeg, as MediaRecorder makes it: no duration, no
cues), the server-side binding, seekable playback with Range, the audit of "listed" vs "played",
bad input, the playback kill switch, lawful erasure, and that nothing in the media directory is
plaintext or names a recording."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import requests

from test_call_protocol import book
from test_http_clinic import Api, is_problem, new_patient, staff


@pytest.fixture(scope="module")
def gp(server) -> Api:
    return staff(server, "sarah.okafor@demo.confide.test")


@pytest.fixture(scope="module")
def operator(server) -> Api:
    return staff(server, "priya.nair@demo.confide.test")


def media(kind: str, seconds: int = 3) -> bytes:
    """WebM as MediaRecorder writes it: live (no duration, no cues), VP8+Opus or Opus only."""
    inputs = ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
    if kind == "video":
        inputs = ["-f", "lavfi", "-i", f"testsrc=size=320x240:rate=15:duration={seconds}"] + inputs
        codecs = ["-c:v", "libvpx", "-b:v", "200k", "-c:a", "libopus"]
    else:
        codecs = ["-c:a", "libopus"]
    out = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", *inputs, *codecs, "-f", "webm", "-live", "1", "pipe:1"],
                         check=True, capture_output=True).stdout
    assert len(out) > 2000
    return out


def duration(data: bytes, tmp: Path) -> float | None:
    path = tmp / "probe.webm"
    path.write_bytes(data)
    r = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
                       capture_output=True, text=True)
    value = json.loads(r.stdout or "{}").get("format", {}).get("duration")
    return float(value) if value not in (None, "N/A") else None


def split(data: bytes, size: int = 16 * 1024) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


def put_chunk(api: Api, rid: str, segment: int, index: int, body: bytes, sha: str | None = None) -> requests.Response:
    headers = dict(api.headers)
    headers["Content-Type"] = "application/octet-stream"
    headers["X-Content-SHA256"] = sha or hashlib.sha256(body).hexdigest()
    return requests.put(api.server.url(f"/api/v1/recordings/{rid}/segments/{segment}/chunks/{index}"), data=body, headers=headers,
                        timeout=30)


def get_media(api: Api, rid: str, segment: int, range_: str | None = None) -> requests.Response:
    headers = dict(api.headers)
    if range_:
        headers["Range"] = range_
    return requests.get(api.server.url(f"/api/v1/recordings/{rid}/segments/{segment}/media"), headers=headers, timeout=60)


def consent_and_start(gp: Api, patient: Api, cid: str, mode: str = "video") -> str:
    r = gp.call("POST", f"/api/v1/consultations/{cid}/recording-consents")
    assert r.status_code == 201, r.text
    consent = r.json()
    assert consent["status"] == "requested"
    r = patient.call("POST", f"/api/v1/consultations/{cid}/recording-consents/{consent['id']}/answer", {"consent": True})
    assert r.status_code == 200 and r.json()["status"] == "granted", r.text
    r = gp.call("POST", f"/api/v1/consultations/{cid}/recordings", {"mode": mode})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def wait_seekable(api: Api, rid: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = api.call("GET", f"/api/v1/recordings/{rid}")
        assert r.status_code == 200, r.text
        rec = r.json()
        if rec["segments"] and all(s["seekable"] for s in rec["segments"]):
            return rec
        assert time.monotonic() < deadline, f"segments not made seekable within {timeout} s: {rec}"
        time.sleep(0.5)


def own_server(inst) -> tuple[object, Api]:
    """A server of a test's own (a crash_drill.Instance that seeded its demo): an object the API
    helpers accept, and the demo GP signed in with TOTP from that server's start-up log."""
    from helpers import DEMO_PASSWORD, demo_totp_uri, fresh_totp

    class Srv:
        host, port = "127.0.0.1", inst.port

        def url(self, path: str) -> str:
            return inst.base + path

    srv = Srv()
    email = "sarah.okafor@demo.confide.test"
    s = requests.post(srv.url("/api/v1/sessions"), timeout=30,
                      json={"email": email, "password": DEMO_PASSWORD, "totp": fresh_totp(demo_totp_uri(inst.tail(400), email))})
    assert s.status_code == 201, s.text
    return srv, Api(srv, s.json()["token"])


def test_record_upload_play_isolate_and_audit(server, gp, tmp_path):
    patient, cid, _ = book(server)
    other, _ = new_patient(server)
    # No consent, no recording.
    is_problem(gp.call("POST", f"/api/v1/consultations/{cid}/recordings", {"mode": "video"}), 409, "transition-not-allowed")
    # The consent list of someone else's consultation is "not found", not empty.
    is_problem(other.call("GET", f"/api/v1/consultations/{cid}/recording-consents"), 404, "not-found")
    rid = consent_and_start(gp, patient, cid)
    consents = patient.call("GET", f"/api/v1/consultations/{cid}/recording-consents").json()["consents"]
    assert [c["status"] for c in consents] == ["granted"]

    video, audio = media("video"), media("audio")
    vchunks, achunks = split(video), split(audio)
    for i, c in enumerate(vchunks):
        r = put_chunk(gp, rid, 0, i, c)
        assert r.status_code == 201 and r.json()["status"] == "stored", r.text
    # A re-sent chunk is harmless; everything else is refused and changes nothing.
    r = put_chunk(gp, rid, 0, 0, vchunks[0])
    assert r.status_code == 200 and r.json()["status"] == "duplicate", r.text
    is_problem(put_chunk(gp, rid, 0, 0, vchunks[1]), 409, "chunk-conflict")
    is_problem(put_chunk(gp, rid, 0, len(vchunks) + 3, vchunks[1]), 409, "chunk-gap")
    is_problem(put_chunk(gp, rid, 0, len(vchunks), vchunks[1], sha=hashlib.sha256(b"other").hexdigest()), 422)
    is_problem(put_chunk(gp, rid, 0, len(vchunks), vchunks[1], sha="not-hex"), 422)
    is_problem(put_chunk(gp, rid, 0, 99999999, vchunks[1]), 422)
    is_problem(put_chunk(gp, rid, 0, len(vchunks), b"\0" * (8 * 1024 * 1024 + 1)), 413, "chunk-too-large")
    is_problem(put_chunk(patient, rid, 0, len(vchunks), vchunks[1]), 404, "not-found")
    is_problem(put_chunk(other, rid, 0, len(vchunks), vchunks[1]), 404, "not-found")
    # Audio-only: the next segment.
    r = gp.call("POST", f"/api/v1/recordings/{rid}/segments", {"mode": "audio"})
    assert r.status_code == 201 and r.json() == {"segment": 1}, r.text
    is_problem(put_chunk(gp, rid, 0, len(vchunks), vchunks[1]), 409, "segment-closed")
    for i, c in enumerate(achunks):
        assert put_chunk(gp, rid, 1, i, c).status_code == 201
    r = gp.call("POST", f"/api/v1/recordings/{rid}/finish")
    assert r.status_code == 200 and r.json()["status"] == "complete", r.text
    is_problem(put_chunk(gp, rid, 1, len(achunks), achunks[0]), 409, "recording-stopped")

    rec = wait_seekable(patient, rid)
    assert rec["consultation_id"] == cid and [s["mode"] for s in rec["segments"]] == ["video", "audio"]
    # Only the patient (and the clinician) see it.
    assert [r["id"] for r in patient.call("GET", "/api/v1/recordings").json()["recordings"]] == [rid]
    assert other.call("GET", "/api/v1/recordings").json()["recordings"] == []
    assert other.call("GET", f"/api/v1/recordings?consultation={cid}").json()["recordings"] == []
    is_problem(other.call("GET", f"/api/v1/recordings/{rid}"), 404, "not-found")
    is_problem(get_media(other, rid, 0), 404, "not-found")
    assert rid in [r["id"] for r in gp.call("GET", f"/api/v1/recordings?consultation={cid}").json()["recordings"]]

    # Playback: the whole segment is seekable WebM (a duration, which MediaRecorder's output lacks).
    assert duration(video, tmp_path) is None
    whole = get_media(patient, rid, 0)
    assert whole.status_code == 200 and whole.headers["Content-Type"] == "video/webm" and whole.headers["Accept-Ranges"] == "bytes"
    assert whole.headers["Cache-Control"] == "no-store"
    assert (duration(whole.content, tmp_path) or 0) > 2.5
    total = len(whole.content)
    part = get_media(patient, rid, 0, "bytes=100-199")
    assert part.status_code == 206 and part.content == whole.content[100:200], part.headers
    assert part.headers["Content-Range"] == f"bytes 100-199/{total}"
    tail = get_media(patient, rid, 0, f"bytes={total - 10}-")
    assert tail.status_code == 206 and tail.content == whole.content[-10:]
    for bad in [f"bytes={total}-", "bytes=9-2", "bytes=a-b", "lines=0-1", "bytes=0-1,5-6"]:
        r = get_media(patient, rid, 0, bad)
        is_problem(r, 416, "range-not-satisfiable")
        assert r.headers["Content-Range"] == f"bytes */{total}"
    audio_back = get_media(patient, rid, 1)
    assert audio_back.status_code == 200 and audio_back.headers["Content-Type"] == "audio/webm"
    assert (duration(audio_back.content, tmp_path) or 0) > 2.5
    is_problem(get_media(patient, rid, 7), 404, "not-found")

    # The patient's access log tells "listed" from "played", with the range played.
    log = patient.call("GET", "/api/v1/me/access-log?limit=200").json()["entries"]
    mine = [e for e in log if e["resource_type"] == "recording"]
    assert any(e["action"] == "list" for e in mine), mine
    assert any(e["action"] == "play" and e["purpose"] == "playback:segment=0:bytes=100-199" for e in mine), mine
    assert any(e["action"] == "record" for e in mine)

    # Nothing under the media directory is plaintext, and no name reveals an id.
    root = server.data_dir / "media"
    files = [p for p in root.rglob("*") if p.is_file()]
    assert len(files) >= len(vchunks) + len(achunks)
    probes = [vchunks[0][:64], vchunks[1][1000:1064], achunks[0][200:264], whole.content[5000:5064]]
    for f in files:
        data = f.read_bytes()
        assert not any(p in data for p in probes), f"plaintext media in {f}"
        assert rid not in str(f) and cid not in str(f)
        assert len(f.name) == 64 and all(ch in "0123456789abcdef" for ch in f.name), f


def test_kill_switch_and_lawful_erasure(server, gp, operator):
    patient, cid, _ = book(server)
    rid = consent_and_start(gp, patient, cid, mode="audio")
    chunks = split(media("audio", 2))
    for i, c in enumerate(chunks):
        assert put_chunk(gp, rid, 0, i, c).status_code == 201
    assert gp.call("POST", f"/api/v1/recordings/{rid}/finish").status_code == 200
    assert get_media(patient, rid, 0).status_code == 200
    # Only operators hold the switch; engaging it stops every playback at once, lists keep working.
    is_problem(gp.call("PUT", "/api/v1/admin/playback-switch", {"engaged": True, "reason": "x"}), 404, "not-found")
    r = operator.call("PUT", "/api/v1/admin/playback-switch", {"engaged": True, "reason": "incident 2026-11-26"})
    assert r.status_code == 200 and r.json()["engaged"] is True, r.text
    try:
        is_problem(get_media(patient, rid, 0), 404, "not-found")
        is_problem(get_media(gp, rid, 0), 404, "not-found")
        assert [x["id"] for x in patient.call("GET", "/api/v1/recordings").json()["recordings"]] == [rid]
    finally:
        r = operator.call("PUT", "/api/v1/admin/playback-switch", {"engaged": False, "reason": "resolved"})
        assert r.status_code == 200 and r.json()["engaged"] is False, r.text
    assert get_media(patient, rid, 0).status_code == 200
    # Operators never see media; they erase on a lawful request, with a reason.
    is_problem(get_media(operator, rid, 0), 404, "not-found")
    assert operator.call("GET", "/api/v1/recordings").json()["recordings"] == []
    is_problem(operator.call("POST", f"/api/v1/admin/recordings/{rid}/erase", {"reason": ""}), 422)
    is_problem(operator.call("POST", f"/api/v1/admin/recordings/{rid}/erase", {"reason": "x", "extra": 1}), 422)
    is_problem(gp.call("POST", f"/api/v1/admin/recordings/{rid}/erase", {"reason": "no"}), 404, "not-found")
    before = sum(1 for p in (server.data_dir / "media").rglob("*") if p.is_file())
    r = operator.call("POST", f"/api/v1/admin/recordings/{rid}/erase", {"reason": "UK GDPR Art. 17 request ref 2026-113"})
    assert r.status_code == 204, r.text
    after = sum(1 for p in (server.data_dir / "media").rglob("*") if p.is_file())
    assert after <= before - len(chunks), (before, after)
    assert patient.call("GET", "/api/v1/recordings").json()["recordings"] == []
    is_problem(get_media(patient, rid, 0), 404, "not-found")
    is_problem(operator.call("POST", f"/api/v1/admin/recordings/{rid}/erase", {"reason": "again"}), 409)
    # The patient sees that an operator erased it (who, not why).
    log = patient.call("GET", "/api/v1/me/access-log?limit=100").json()["entries"]
    assert any(e["action"] == "delete" and e["resource_type"] == "recording" and e["decision"] == "allowed" for e in log), log


def test_withdrawal_stops_the_upload(server, gp):
    patient, cid, _ = book(server)
    rid = consent_and_start(gp, patient, cid, mode="audio")
    chunks = split(media("audio", 2), 4096)
    assert put_chunk(gp, rid, 0, 0, chunks[0]).status_code == 201
    consent = patient.call("GET", f"/api/v1/consultations/{cid}/recording-consents").json()["consents"][0]["id"]
    r = patient.call("POST", f"/api/v1/consultations/{cid}/recording-consents/{consent}/withdraw")
    assert r.status_code == 200 and r.json()["status"] == "withdrawn", r.text
    is_problem(put_chunk(gp, rid, 0, 1, chunks[1]), 409, "recording-stopped")
    rec = patient.call("GET", f"/api/v1/recordings/{rid}").json()
    assert rec["status"] == "complete" and rec["ended_reason"] == "stopped-by-patient" and rec["segments"][0]["closed"]
    is_problem(gp.call("POST", f"/api/v1/consultations/{cid}/recordings", {"mode": "audio"}), 409, "transition-not-allowed")


def test_a_server_on_s3_object_storage(tmp_path):
    """The same recording life on a server whose vault is SeaweedFS (a real S3 server, SigV4
    enforced): upload, seekable playback with Range, erasure; objects are opaque and sealed."""
    import secrets

    from crash_drill import Instance

    endpoint = os.environ.get("CONFIDE_E2E_S3_ENDPOINT")
    if not endpoint:
        if os.environ.get("CONFIDE_TEST_REQUIRE_S3") == "1":
            pytest.fail("CONFIDE_TEST_REQUIRE_S3=1 but CONFIDE_E2E_S3_ENDPOINT is not set")
        pytest.skip("no S3 endpoint (scripts/test starts SeaweedFS)")
    access, secret = tmp_path / "s3-access", tmp_path / "s3-secret"
    access.write_text(os.environ["CONFIDE_E2E_S3_ACCESS_KEY"] + "\n")
    secret.write_text(os.environ["CONFIDE_E2E_S3_SECRET_KEY"] + "\n")
    secret.chmod(0o600)
    bucket = f"confide-e2e-{secrets.token_hex(4)}"
    inst = Instance(tmp_path / "s3-data", None)
    inst.extra = ["--s3-endpoint", endpoint, "--s3-bucket", bucket, "--s3-access-key-file", str(access),
                  "--s3-secret-key-file", str(secret)]
    inst.start()
    try:
        srv, gp = own_server(inst)
        patient, cid, _ = book(srv)
        rid = consent_and_start(gp, patient, cid)
        video = media("video", 3)
        for i, c in enumerate(split(video)):
            assert put_chunk(gp, rid, 0, i, c).status_code == 201
        assert gp.call("POST", f"/api/v1/recordings/{rid}/finish").status_code == 200
        wait_seekable(patient, rid)
        whole = get_media(patient, rid, 0)
        assert whole.status_code == 200 and (duration(whole.content, tmp_path) or 0) > 2.5
        part = get_media(patient, rid, 0, "bytes=10-19")
        assert part.status_code == 206 and part.content == whole.content[10:20]
        # Nothing of the media is on local disk: the vault is the bucket.
        assert not (inst.data / "media").exists() or not any(p.is_file() for p in (inst.data / "media").rglob("*"))
    finally:
        inst.stop()
    # A wrong secret is refused by the server: the instance does not start.
    secret.write_text("wrong-" + os.environ["CONFIDE_E2E_S3_SECRET_KEY"] + "\n")
    bad = Instance(tmp_path / "s3-bad", None)
    bad.extra = inst.extra
    with pytest.raises(AssertionError, match="exited|S3"):
        bad.start(timeout=60)
    assert "S3 bucket is not reachable" in bad.tail(), bad.tail()


def test_key_rotation_rewraps_without_touching_media(tmp_path):
    """`confide vault rotate` re-wraps every data key under a new key-encryption key: the media
    files are not rewritten, the recording plays with only the new key, and no longer with only the old."""
    from crash_drill import BIN, Instance

    keys = {name: tmp_path / f"{name}.key" for name in ("kek1", "kek2", "naming")}
    for path in keys.values():
        r = subprocess.run([BIN, "vault", "keygen", "--out", str(path)], capture_output=True, text=True)
        assert r.returncode == 0 and path.stat().st_mode & 0o077 == 0, r.stderr
    again = subprocess.run([BIN, "vault", "keygen", "--out", str(keys["kek1"])], capture_output=True, text=True)
    assert again.returncode != 0, "a key file is never overwritten"
    data = tmp_path / "data"
    inst = Instance(data, None)  # key handling, not the database, is under test
    inst.extra = ["--vault-key-file", str(keys["kek1"]), "--vault-naming-key-file", str(keys["naming"])]
    inst.start()
    srv, gp = own_server(inst)
    patient, cid, _ = book(srv)
    rid = consent_and_start(gp, patient, cid, mode="audio")
    chunks = split(media("audio", 2))
    for i, c in enumerate(chunks):
        assert put_chunk(gp, rid, 0, i, c).status_code == 201
    assert gp.call("POST", f"/api/v1/recordings/{rid}/finish").status_code == 200
    wait_seekable(patient, rid)
    before = get_media(patient, rid, 0).content
    inst.stop()
    files = {p: p.read_bytes() for p in (data / "media").rglob("*") if p.is_file()}

    rotate = subprocess.run([BIN, "vault", "rotate", "--demo", "--data-dir", str(data), "--vault-key-file", str(keys["kek1"]),
                             "--vault-naming-key-file", str(keys["naming"]), "--new-key-file", str(keys["kek2"])],
                            capture_output=True, text=True, timeout=120)
    assert rotate.returncode == 0 and "Re-wrapped 1 data keys" in rotate.stdout, rotate.stdout + rotate.stderr
    again = subprocess.run([BIN, "vault", "rotate", "--demo", "--data-dir", str(data), "--vault-key-file", str(keys["kek2"]),
                            "--vault-naming-key-file", str(keys["naming"]), "--new-key-file", str(keys["kek2"])],
                           capture_output=True, text=True, timeout=120)
    assert "Re-wrapped 0 data keys" in again.stdout and "1 were already under it" in again.stdout, again.stdout + again.stderr
    assert {p: p.read_bytes() for p in (data / "media").rglob("*") if p.is_file()} == files, "rotation rewrote media"

    inst.extra = ["--vault-key-file", str(keys["kek2"]), "--vault-naming-key-file", str(keys["naming"])]
    inst.start()
    try:
        assert get_media(patient, rid, 0).content == before
    finally:
        inst.stop()
    inst.extra = ["--vault-key-file", str(keys["kek1"]), "--vault-naming-key-file", str(keys["naming"])]
    inst.start()
    try:
        r = get_media(patient, rid, 0)
        assert r.status_code >= 500 and before[:64] not in r.content
    finally:
        inst.stop()
