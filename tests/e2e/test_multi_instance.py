"""Two `confide serve` processes on one PostgreSQL database, sharing no memory: the clinician's
live event stream is served by one, the patient's change reaches the other, and the event still
arrives (PostgreSQL LISTEN/NOTIFY). Runs in the PostgreSQL pass of the suite."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
from websockets.sync.client import connect

from conftest import REPO, free_port
from helpers import DEMO_PASSWORD, PASSWORD, demo_totp_uri, fresh_totp

pytestmark = pytest.mark.skipif(not os.environ.get("CONFIDE_E2E_DATABASE_URL"), reason="needs PostgreSQL (several instances)")


def second_instance(server) -> tuple[subprocess.Popen, str]:
    """Another process on the same database and the same keys (instances share the master key
    and the audit signing key, as production instances share their configured secrets)."""
    binary = Path(os.environ.get("CONFIDE_BIN", REPO / ".build" / "debug" / "confide"))
    args = list(server.process.args)
    data_dir = args[args.index("--data-dir") + 1]
    port = free_port()
    proc = subprocess.Popen(
        [str(binary), "serve", "--demo", "--port", str(port), "--data-dir", data_dir,
         "--database-url", os.environ["CONFIDE_E2E_DATABASE_URL"],
         # As the session server: calls open two weeks before the appointment.
         "--call-opens-minutes-before", "20160"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/healthz", timeout=2).status_code == 200:
                return proc, base
        except requests.RequestException:
            time.sleep(0.2)
    proc.terminate()
    raise AssertionError("the second instance did not start")


def test_a_change_on_one_instance_reaches_the_clinicians_stream_on_another(server):
    other, other_base = second_instance(server)
    try:
        # The clinician signs in on the second instance and opens her live stream there.
        uri = demo_totp_uri(server.log_text(), "sarah.okafor@demo.confide.test")
        s = requests.post(other_base + "/api/v1/sessions",
                          json={"email": "sarah.okafor@demo.confide.test", "password": DEMO_PASSWORD, "totp": fresh_totp(uri)}, timeout=30)
        assert s.status_code == 201, s.text
        sarah = {"Authorization": "Bearer " + s.json()["token"]}
        received: list[str] = []
        connected = threading.Event()

        def listen() -> None:
            with requests.get(other_base + "/api/v1/events", headers=sarah, stream=True, timeout=(10, 40)) as stream:
                assert stream.headers["Content-Type"].startswith("text/event-stream")
                for line in stream.iter_lines(decode_unicode=True):
                    if line.startswith(": connected"):
                        connected.set()
                    if line.startswith("data:"):
                        received.append(line)
                        return

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        assert connected.wait(20), "the event stream did not open"

        # A patient books on the first instance, then cancels there.
        email = f"e2e-multi-{uuid.uuid4().hex[:10]}@example.com"
        assert requests.post(server.url("/api/v1/accounts"), json={"email": email, "password": PASSWORD, "given_name": "Quentin",
                             "family_name": "Blackwood", "birth_date": "1970-01-02"}, timeout=30).status_code == 201
        patient = {"Authorization": "Bearer " + requests.post(server.url("/api/v1/sessions"), json={"email": email, "password": PASSWORD},
                                                              timeout=30).json()["token"]}
        practices = requests.get(server.url("/api/v1/practices"), headers=patient, timeout=30).json()["practices"]
        riverside = next(p["id"] for p in practices if p["name"] == "Riverside Medical Centre")
        assert requests.put(server.url("/api/v1/me/practice"), json={"practice_id": riverside}, headers=patient, timeout=30).status_code == 204
        slot = requests.get(server.url("/api/v1/slots?role=gp&limit=1"), headers=patient, timeout=30).json()["slots"][0]
        booked = requests.post(server.url("/api/v1/consultations"), headers=patient, timeout=30,
                               json={"clinician_id": slot["clinician_id"], "start": slot["start"], "modality": "video"})
        assert booked.status_code == 201, booked.text
        listener.join(30)
        assert received, "no event reached the other instance"
        # The event names the consultation only; the clinician reads it through the gate on her instance.
        cid = booked.json()["id"]
        assert cid in received[0] and "Quentin" not in received[0] and "Blackwood" not in received[0]
        seen = requests.get(other_base + f"/api/v1/consultations/{cid}", headers=sarah, timeout=30)
        assert seen.status_code == 200 and seen.json()["patient_name"] == "Quentin Blackwood"
    finally:
        stop(other)


def stop(proc: subprocess.Popen) -> None:
    """Stops a second instance: SIGTERM, then SIGKILL after 20 s."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def _sdp(tag: str, size: int = 9 * 1024) -> str:
    """A realistic SDP of about `size` bytes (many ICE candidates), so that it cannot fit in a
    PostgreSQL NOTIFY payload (8000 bytes)."""
    lines = ["v=0", "o=- 4611731400430051336 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0 1",
             "a=msid-semantic: WMS " + tag, "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126", "c=IN IP4 0.0.0.0",
             "a=rtcp:9 IN IP4 0.0.0.0", "a=ice-ufrag:" + tag[:4], "a=ice-pwd:" + uuid.uuid4().hex, "a=ice-options:trickle",
             "a=fingerprint:sha-256 " + ":".join(["AB"] * 32), "a=setup:actpass", "a=mid:0", "a=sendrecv", "a=rtcp-mux",
             "a=rtpmap:111 opus/48000/2", "a=fmtp:111 minptime=10;useinbandfec=1"]
    i = 0
    while sum(len(x) + 2 for x in lines) < size:
        i += 1
        lines.append(f"a=candidate:{i} 1 udp {2122260223 - i} 192.0.2.{i % 250 + 1} {50000 + i} typ host generation 0 network-id 1")
    return "\r\n".join(lines) + "\r\n"


def test_a_call_between_two_instances(server):
    """The patient's WebSocket is served by one instance, the GP's by another: presence, negotiation
    (with SDP larger than a NOTIFY payload), chat, location and the end all cross instances."""
    from test_http_clinic import new_patient, riverside, staff

    other, other_base = second_instance(server)

    def recv(ws, type_: str) -> dict:
        m = json.loads(ws.recv(timeout=10))
        assert m["type"] == type_, f"expected {type_!r}, got {m}"
        return m

    def close_code(ws) -> int | None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                ws.recv(timeout=10)
        except ConnectionClosed as e:
            return e.rcvd.code if e.rcvd is not None else None

    try:
        patient, _ = new_patient(server)
        assert patient.call("PUT", "/api/v1/me/practice", {"practice_id": riverside(patient)}).status_code == 204
        slot = patient.call("GET", "/api/v1/slots?role=gp&modality=video&days=14&limit=1").json()["slots"][0]
        booked = patient.call("POST", "/api/v1/consultations", {"clinician_id": slot["clinician_id"], "start": slot["start"], "modality": "video"})
        assert booked.status_code == 201, booked.text
        cid = booked.json()["id"]
        gp = staff(server, "sarah.okafor@demo.confide.test")  # sessions live in the shared database
        path = f"/api/v1/consultations/{cid}/call/ws"
        a = "ws://" + server.base_url.removeprefix("http://") + path
        b = "ws://" + other_base.removeprefix("http://") + path

        with contextlib.ExitStack() as stack:
            p = stack.enter_context(connect(a, additional_headers=patient.headers, open_timeout=10))
            # The patient is seated (welcomed, nobody else there) before the GP connects: a socket is
            # open before its seat is taken, so connecting both at once let the GP's seat come first.
            assert recv(p, "welcome")["peers"] == []
            c = stack.enter_context(connect(b, additional_headers=gp.headers, open_timeout=10))
            # The GP's instance sees the patient's seat (in the database) and starts the consultation.
            welcome = recv(c, "welcome")
            assert welcome["status"] == "in-progress" and [x["role"] for x in welcome["peers"]] == ["patient"], welcome
            assert recv(p, "peer-joined") == {"type": "peer-joined", "role": "clinician", "resumed": False}
            assert recv(p, "status") == {"type": "status", "status": "in-progress"}

            offer, answer = _sdp("offr"), _sdp("answ")
            assert len(offer.encode()) > 9000 and len(answer.encode()) > 9000
            c.send(json.dumps({"type": "offer", "sdp": offer}))
            assert recv(p, "offer") == {"type": "offer", "from": "clinician", "sdp": offer}
            p.send(json.dumps({"type": "answer", "sdp": answer}))
            assert recv(c, "answer") == {"type": "answer", "from": "patient", "sdp": answer}
            cand = {"candidate": "candidate:7 1 udp 1686052607 203.0.113.9 61000 typ srflx raddr 192.0.2.3 rport 50000",
                    "sdpMid": "0", "sdpMLineIndex": 0}
            p.send(json.dumps({"type": "candidate", **cand}))
            assert recv(c, "candidate") == {"type": "candidate", "from": "patient", **cand}
            c.send(json.dumps({"type": "candidate", **cand}))
            assert recv(p, "candidate") == {"type": "candidate", "from": "clinician", **cand}
            p.send(json.dumps({"type": "media", "mode": "audio-only", "muted": False}))
            assert recv(c, "media") == {"type": "media", "from": "patient", "mode": "audio-only", "muted": False}

            p.send(json.dumps({"type": "chat", "text": "Bonjour, docteur"}))
            mine = recv(p, "chat")
            assert recv(c, "chat") == mine and mine["from"] == "patient" and mine["text"] == "Bonjour, docteur"
            c.send(json.dumps({"type": "chat", "text": "Hello from the other instance"}))
            reply = recv(c, "chat")
            assert recv(p, "chat") == reply and reply["from"] == "clinician"
            p.send(json.dumps({"type": "location", "address": "4 Privet Drive, Little Whinging"}))
            assert recv(c, "location")["address"] == "4 Privet Drive, Little Whinging"
            saved = requests.get(other_base + f"/api/v1/consultations/{cid}/chat", headers=gp.headers, timeout=30).json()["messages"]
            assert [m["id"] for m in saved] == [mine["id"], reply["id"]]

            c.send(json.dumps({"type": "end"}))
            assert recv(c, "ended") == {"type": "ended"}
            assert recv(p, "ended") == {"type": "ended"}
            assert close_code(c) == 1000
            assert close_code(p) == 1000
        for base in (server.base_url, other_base):
            r = requests.get(base + f"/api/v1/consultations/{cid}", headers=patient.headers, timeout=30)
            assert r.json()["status"] == "ended", r.text
    finally:
        stop(other)
