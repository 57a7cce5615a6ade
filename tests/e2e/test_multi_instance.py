"""Two `confide serve` processes on one PostgreSQL database, sharing no memory: the clinician's
live event stream is served by one, the patient's change reaches the other, and the event still
arrives (PostgreSQL LISTEN/NOTIFY). Runs in the PostgreSQL pass of the suite."""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

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
         "--database-url", os.environ["CONFIDE_E2E_DATABASE_URL"]],
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
        other.terminate()
        try:
            other.wait(timeout=20)
        except subprocess.TimeoutExpired:
            other.kill()
