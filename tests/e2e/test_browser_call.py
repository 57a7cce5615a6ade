"""Video consultations in real headless Chromium (fake camera and microphone), against the real
server: the call page, its WebSocket signalling (docs/design/calls.md) and WebRTC media.

1. A new patient books a video consultation with the demo GP (Sarah Okafor at Riverside). Both
   open the call page in their own browser; the patient confirms where she is and the GP sees it;
   the call connects and media flows both ways (inbound-rtp bytes grow on both sides); the
   patient switches to audio only, back to video, and to audio only again, the GP sees each
   change and audio keeps flowing; chat reaches the GP and is saved; the GP ends the
   consultation: both pages show the end and the consultation is "ended".
2. The same call forced through TURN: coturn on loopback (TURN REST API secret) and a second
   server configured with --turn-url/--turn-secret-file and --ice-transport-policy relay; the
   selected candidate pair is a relay on both sides and media flows. coturn must be installed
   (scripts/test installs it): without it the test fails, it does not skip.

The main server runs with --call-opens-minutes-before 20160 (conftest), so a call can be joined
however far ahead the soonest slot is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import random
import secrets
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from conftest import REPO, Server, _stop, free_port, log_tail
from helpers import Person
from test_browser_clinic import assert_no_crash, labelled, sign_in_patient, sign_in_staff, text_of, wait_until

SARAH = "sarah.okafor@demo.confide.test"
CONNECT_WAIT = 45
FLOW_WAIT = 30
ADDRESS = "Flat 2, 14 Mill Lane, Leeds LS1 4AB"


# --------------------------------------------------------------------------- API helpers


class Api:
    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, body=None) -> requests.Response:
        return requests.request(method, self.base_url + path, json=body, headers=self.headers, timeout=30)


def book_video_with_sarah(base_url: str) -> tuple[Person, Api, str]:
    """A new patient registers, chooses Riverside and books the GP's soonest video slot."""
    p = Person.new()
    r = requests.post(base_url + "/api/v1/accounts", timeout=30, json={
        "email": p.email, "password": p.password, "given_name": p.given_name, "family_name": p.family_name,
        "birth_date": p.birth_date})
    assert r.status_code == 201, r.text
    s = requests.post(base_url + "/api/v1/sessions", json={"email": p.email, "password": p.password}, timeout=30)
    assert s.status_code == 201, s.text
    api = Api(base_url, s.json()["token"])
    practices = api.call("GET", "/api/v1/practices").json()["practices"]
    riverside = next(x["id"] for x in practices if x["name"] == "Riverside Medical Centre")
    assert api.call("PUT", "/api/v1/me/practice", {"practice_id": riverside}).status_code == 204
    slots = api.call("GET", "/api/v1/slots?role=gp&modality=video&days=14&limit=20").json()["slots"]
    slot = next((x for x in slots if x["clinician_name"] == "Sarah Okafor"), None)
    assert slot, f"the demo GP offers no video slot within two weeks: {slots}"
    booked = api.call("POST", "/api/v1/consultations", {"clinician_id": slot["clinician_id"], "start": slot["start"], "modality": "video"})
    assert booked.status_code == 201, booked.text
    return p, api, booked.json()["id"]


# --------------------------------------------------------------------------- browser helpers

STATS_JS = """
const done = arguments[arguments.length - 1];
const call = window.confideCall;
if (!call || !call.pc) { done(null); return; }
call.pc.getStats().then((report) => {
  const byId = new Map();
  report.forEach((s) => byId.set(s.id, s));
  const out = { audio: 0, video: 0, framesDecoded: 0, localType: null, remoteType: null, pairs: [] };
  report.forEach((s) => {
    if (s.type === "inbound-rtp") {
      out[s.kind] += s.bytesReceived || 0;
      if (s.kind === "video") out.framesDecoded += s.framesDecoded || 0;
    }
    if (s.type === "transport" && s.selectedCandidatePairId) {
      const pair = byId.get(s.selectedCandidatePairId);
      if (pair) {
        const l = byId.get(pair.localCandidateId), r = byId.get(pair.remoteCandidateId);
        out.localType = l ? l.candidateType : null;
        out.remoteType = r ? r.candidateType : null;
      }
    }
  });
  done(out);
}, (e) => done({ error: String(e) }));
"""


def stats(driver: WebDriver) -> dict:
    driver.set_script_timeout(15)
    out = driver.execute_async_script(STATS_JS)
    assert out is not None, "window.confideCall.pc does not exist"
    assert "error" not in out, out
    return out


def call_state(driver: WebDriver) -> str | None:
    els = driver.find_elements(By.ID, "call-state")
    return els[0].get_attribute("data-state") if els else None


def wait_state(driver: WebDriver, who: str, state: str, timeout: float = CONNECT_WAIT) -> None:
    wait_until(driver, f"{who}'s call to be {state!r} (is {call_state(driver)!r})", lambda d: call_state(d) == state, timeout)


def wait_flowing(drivers: dict[str, WebDriver], kind: str, min_growth: int = 2000, timeout: float = FLOW_WAIT) -> None:
    """Inbound `kind` bytes grow by at least min_growth on every browser."""
    base = {who: stats(d)[kind] for who, d in drivers.items()}
    pending = set(drivers)
    deadline = time.monotonic() + timeout
    last: dict[str, dict] = {}
    while pending and time.monotonic() < deadline:
        time.sleep(0.5)
        for who in list(pending):
            last[who] = stats(drivers[who])
            if last[who][kind] - base[who] >= min_growth:
                pending.discard(who)
    assert not pending, f"{kind} does not flow to {sorted(pending)}: before {base}, now {last}"


def assert_not_flowing(driver: WebDriver, who: str, kind: str) -> None:
    time.sleep(1.5)  # packets already in flight
    before = stats(driver)[kind]
    time.sleep(2.5)
    after = stats(driver)[kind]
    assert after - before < 1000, f"{kind} still reaches the {who} ({before} -> {after} bytes) in audio-only mode"


def remote_mode(driver: WebDriver) -> str:
    return driver.find_element(By.ID, "remote-mode").text.strip()


def click(driver: WebDriver, ident: str) -> None:
    el = wait_until(driver, f"#{ident} to be enabled", lambda d: (lambda e: e if e.is_displayed() and e.is_enabled() else None)(d.find_element(By.ID, ident)))
    el.click()


def console_errors(driver: WebDriver) -> list[str]:
    return [
        e["message"] for e in driver.get_log("browser")
        if e.get("level") == "SEVERE" and "favicon.ico" not in e.get("message", "")
    ]


def confirm_location(patient: WebDriver) -> None:
    box = wait_until(patient, "the location form", lambda d: d.find_elements(By.ID, "location-address"))[0]
    labelled(patient, "location-address")
    label = patient.find_element(By.CSS_SELECTOR, 'label[for="location-address"]').text
    assert "Where are you right now?" in label, label
    # The call does not start before the location is given.
    assert patient.execute_script("return window.confideCall.ws") is None
    patient.find_element(By.ID, "location-confirm").click()
    error = wait_until(patient, "the empty-location message", lambda d: [e for e in d.find_elements(By.ID, "location-error") if e.is_displayed()])[0]
    assert error.text.strip(), "the empty-location message is blank"
    assert patient.execute_script("return window.confideCall.ws") is None
    box.send_keys(ADDRESS)
    patient.find_element(By.ID, "location-confirm").click()


def join_both(base_url: str, server: Server, make_browser, cid: str, patient: Person) -> tuple[WebDriver, WebDriver]:
    """The GP opens the call first and waits; the patient joins after confirming her address;
    both end up connected and the GP sees the address."""
    sarah = make_browser(media=True)
    pat = make_browser(media=True)
    sign_in_staff(sarah, server, SARAH)
    sign_in_patient(pat, base_url, patient)

    page = f"/clinic/consultations/{cid}/call"
    sarah.get(base_url + page)
    assert_no_crash(sarah)
    script = requests.get(base_url + "/static/call.js", timeout=10)
    assert script.status_code == 200 and "javascript" in script.headers.get("Content-Type", ""), (
        f"the call page's script is not served: GET /static/call.js -> {script.status_code}")
    wait_state(sarah, "the GP", "waiting")
    assert sarah.find_elements(By.ID, "patient-location"), "the clinician's page has no #patient-location panel"
    for ident in ("camera", "microphone"):
        assert labelled(sarah, ident).tag_name == "select"
    for ident in ("mute", "video-toggle", "mode-toggle", "hangup", "end-consultation"):
        assert sarah.find_element(By.ID, ident).is_displayed(), f"#{ident} is not shown to the clinician"

    pat.get(base_url + page)
    assert_no_crash(pat)
    confirm_location(pat)
    assert not pat.find_elements(By.ID, "end-consultation"), "the patient is offered to end the consultation"

    wait_state(sarah, "the GP", "connected")
    wait_state(pat, "the patient", "connected")
    location = sarah.find_element(By.ID, "patient-location")
    wait_until(sarah, "the patient's address", lambda d: ADDRESS in location.text)
    assert "location" in location.text.lower(), location.text
    return sarah, pat


def end_call(base_url: str, sarah: WebDriver, pat: WebDriver, api: Api, cid: str) -> None:
    click(sarah, "end-consultation")
    click(sarah, "end-confirm")
    wait_state(sarah, "the GP", "ended", 20)
    wait_state(pat, "the patient", "ended", 20)
    for d in (sarah, pat):
        assert d.find_elements(By.ID, "call-back"), "no link back after the call ended"
        assert "ended" in d.find_element(By.ID, "call-state").text.lower()
        assert d.execute_script("return window.confideCall.pc") is None
        assert d.execute_script(
            "return document.getElementById('local-video').srcObject.getTracks().every(t => t.readyState === 'ended')"
        ), "the camera/microphone is still in use after the call"
    status = api.call("GET", f"/api/v1/consultations/{cid}").json()["status"]
    assert status == "ended", f"consultation status after End consultation: {status}"


# --------------------------------------------------------------------------- 1. a peer-to-peer call


def test_video_call_location_modes_chat_and_end(server, make_browser):
    base = server.base_url
    patient, api, cid = book_video_with_sarah(base)
    info = api.call("GET", f"/api/v1/consultations/{cid}/call")
    assert info.status_code == 200, info.text
    assert info.json()["joinable"] is True and info.json()["role"] == "patient", info.text

    sarah, pat = join_both(base, server, make_browser, cid, patient)
    drivers = {"GP": sarah, "patient": pat}
    wait_flowing(drivers, "audio")
    wait_flowing(drivers, "video", min_growth=20000)
    assert remote_mode(sarah) == "Video" and remote_mode(pat) == "Video"

    # Audio only, video, audio only again: the GP sees each change and audio keeps flowing.
    for wanted_mode, label in (("audio-only", "Audio only"), ("video", "Video"), ("audio-only", "Audio only")):
        click(pat, "mode-toggle")
        wait_until(pat, f"the patient's mode {wanted_mode}", lambda d: d.execute_script("return window.confideCall.mode") == wanted_mode)
        wait_until(sarah, f"the GP to see {label!r}", lambda d: remote_mode(d) == label)
        wait_flowing(drivers, "audio")
        if wanted_mode == "video":
            wait_flowing({"GP": sarah}, "video", min_growth=20000)
            assert pat.find_element(By.ID, "mode-toggle").text.strip() == "Switch to audio only"
        else:
            assert pat.execute_script(
                "return window.confideCall.pc.getSenders().every(s => !s.track || s.track.kind !== 'video')"
            ), "the patient still sends video in audio-only mode"
            assert_not_flowing(sarah, "GP", "video")
            assert pat.find_element(By.ID, "mode-toggle").text.strip() == "Switch to video"
        assert call_state(sarah) == "connected" and call_state(pat) == "connected"

    # Another microphone: the sender's track is replaced and audio keeps flowing.
    sent_mic = "return (window.confideCall.pc.getSenders().find(s => s.track && s.track.kind === 'audio') || {track: null}).track?.getSettings().deviceId"
    mic = Select(labelled(pat, "microphone"))
    current = pat.execute_script(sent_mic)
    others = [o.get_attribute("value") for o in mic.options if o.get_attribute("value") != current]
    assert current and others, f"microphones offered: {[o.text for o in mic.options]}"
    mic.select_by_value(others[0])
    wait_until(pat, "the other microphone to be sent", lambda d: d.execute_script(sent_mic) == others[0])
    wait_flowing(drivers, "audio")

    # Mute reads on the other side.
    click(sarah, "mute")
    wait_until(pat, "the GP shown as muted", lambda d: d.find_element(By.ID, "remote-muted").is_displayed())
    click(sarah, "mute")
    wait_until(pat, "the GP shown as unmuted", lambda d: not d.find_element(By.ID, "remote-muted").is_displayed())

    # Chat: the patient writes; the GP sees it live; it is saved to the consultation.
    text = "Can you hear me? " + uuid.uuid4().hex[:8]
    labelled(pat, "chat-input").send_keys(text)
    pat.find_element(By.CSS_SELECTOR, '#chat-form button[type="submit"]').click()
    wait_until(sarah, "the chat message on the GP's page", lambda d: text in d.find_element(By.ID, "chat-log").text)
    wait_until(pat, "the chat message on the patient's page", lambda d: text in d.find_element(By.ID, "chat-log").text)
    assert pat.find_element(By.ID, "chat-input").get_attribute("value") == ""
    saved = api.call("GET", f"/api/v1/consultations/{cid}/chat")
    assert saved.status_code == 200, saved.text
    assert [(m["from"], m["text"]) for m in saved.json()["messages"]] == [("patient", text)], saved.text

    # The patient's signalling connection drops (not a hang-up). A page cannot cut its own TCP
    # connection, so the drop is what the page sees of one: a close event with 1006, while the
    # old socket stays open on the server. The page shows it, joins again with the resume token
    # (the server hands the seat over and closes the old socket with 4000), restarts ICE, and the
    # call carries on.
    old_ws = pat.execute_script(
        "const ws = window.confideCall.ws;"
        "ws.dispatchEvent(new CloseEvent('close', {code: 1006, wasClean: false}));"
        "return [ws.url, window.confideCall.state];")
    assert "resume=" not in old_ws[0] and old_ws[1] == "reconnecting", old_ws
    wait_until(pat, "a new connection with the resume token",
               lambda d: "resume=" in (d.execute_script("return window.confideCall.ws && window.confideCall.ws.url") or ""), 20)
    wait_state(pat, "the patient", "connected")
    wait_state(sarah, "the GP", "connected")
    wait_flowing(drivers, "audio")

    # The GP ends the consultation: both pages end; the consultation is ended.
    end_call(base, sarah, pat, api, cid)
    for who, d in drivers.items():
        errors = console_errors(d)
        assert not errors, f"console errors on the {who}'s page: {errors}"

    # Opening the call again afterwards explains why it cannot be joined, and asks nothing.
    pat.get(base + f"/clinic/consultations/{cid}/call")
    wait_until(pat, "the reason the call cannot be joined", lambda d: call_state(d) in ("ended", "error"))
    reason = pat.find_element(By.ID, "call-state").text.strip()
    assert reason and "null" not in reason and "undefined" not in reason, reason
    assert not pat.find_elements(By.ID, "location-address") and not pat.find_elements(By.ID, "remote-video")
    assert pat.execute_script("return window.confideCall.ws") is None
    assert not console_errors(pat), console_errors(pat)


# --------------------------------------------------------------------------- 2. through TURN


def _udp_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_udp_range(size: int = 40) -> tuple[int, int]:
    for _ in range(50):
        low = random.randrange(40000, 60000 - size)
        if all(_udp_free(p) for p in range(low, low + size + 1)):
            return low, low + size
    raise AssertionError("no free UDP port range for the TURN relay")


@pytest.fixture
def coturn(tmp_path: Path):
    binary = shutil.which("turnserver") or "/usr/bin/turnserver"
    if not os.path.exists(binary):
        pytest.fail("turnserver (Debian package coturn) is not installed: scripts/test installs it", pytrace=False)
    secret = secrets.token_hex(24)
    port = free_port()
    while not _udp_free(port):
        port = free_port()
    low, high = _free_udp_range()
    log_path = tmp_path / "turnserver.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [binary, "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", f"--listening-port={port}",
         f"--min-port={low}", f"--max-port={high}", "--realm=confide.test",
         "--use-auth-secret", f"--static-auth-secret={secret}",
         "--no-tls", "--no-dtls", "--no-cli", "--allow-loopback-peers", "--no-multicast-peers", "--fingerprint",
         f"--userdb={tmp_path / 'turndb'}", "--log-file=stdout", "--simple-log", f"--pidfile={tmp_path / 'turn.pid'}"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 20
    while _udp_free(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.close()
            pytest.fail(f"turnserver did not start:\n{log_tail(log_path)}", pytrace=False)
        time.sleep(0.1)
    try:
        yield {"port": port, "secret": secret, "log": log_path}
    finally:
        _stop(proc, grace=5)
        log.close()
        print(f"--- turnserver log tail ({log_path}) ---\n{log_tail(log_path, 40)}")


@pytest.fixture
def relay_server(coturn, tmp_path_factory: pytest.TempPathFactory):
    """A second confide server (its own SQLite data, demo seeded) that hands out TURN
    credentials and forces relayed media."""
    binary = Path(os.environ.get("CONFIDE_BIN", REPO / ".build" / "debug" / "confide"))
    data_dir = tmp_path_factory.mktemp("confide-relay-data")
    secret_file = data_dir.parent / f"{data_dir.name}-turn-secret"
    secret_file.write_text(coturn["secret"] + "\n")
    secret_file.chmod(0o600)
    log_path = tmp_path_factory.mktemp("confide-relay-log") / "server.log"
    host, port = "127.0.0.1", free_port()
    cmd = [str(binary), "serve", "--demo", "--host", host, "--port", str(port), "--data-dir", str(data_dir),
           "--call-opens-minutes-before", "20160",
           "--turn-url", f"turn:127.0.0.1:{coturn['port']}?transport=udp", "--turn-secret-file", str(secret_file),
           "--ice-transport-policy", "relay"]
    log = open(log_path, "wb")
    proc = subprocess.Popen(cmd, cwd=REPO, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    srv = Server(base_url=f"http://{host}:{port}", host=host, port=port, log_path=log_path, process=proc, data_dir=Path(data_dir))
    deadline = time.monotonic() + float(os.environ.get("CONFIDE_E2E_START_TIMEOUT", "60"))
    while True:
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop(proc)
            log.close()
            pytest.fail(f"the relay server did not start\ncommand: {' '.join(cmd)}\n{log_tail(log_path)}", pytrace=False)
        try:
            if requests.get(srv.base_url + "/healthz", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            pass
        time.sleep(0.2)
    try:
        yield srv
    finally:
        code, killed = _stop(proc)
        log.close()
        print(f"--- relay server log tail ({log_path}) ---\n{log_tail(log_path, 60)}")
    assert not killed and code == 0, f"the relay server exited with {code} (killed: {killed})\n{log_tail(log_path)}"


def test_call_through_turn_relay(relay_server, coturn, make_browser):
    base = relay_server.base_url
    patient, api, cid = book_video_with_sarah(base)

    # The join information carries TURN REST API credentials for coturn's shared secret.
    info = api.call("GET", f"/api/v1/consultations/{cid}/call")
    assert info.status_code == 200, info.text
    body = info.json()
    assert body["ice_transport_policy"] == "relay", body
    turn = [s for s in body["ice_servers"] if any(u.startswith("turn:") for u in s["urls"])]
    assert turn, f"no TURN server in {body['ice_servers']}"
    username, credential = turn[0]["username"], turn[0]["credential"]
    expiry = int(username.split(":", 1)[0])
    assert time.time() < expiry <= time.time() + 2 * 3600 + 60, f"TURN username {username!r}: expiry not within 2 hours"
    expected = base64.b64encode(hmac.new(coturn["secret"].encode(), username.encode(), hashlib.sha1).digest()).decode()
    assert credential == expected, "the TURN credential is not base64(HMAC-SHA1(secret, username))"

    sarah, pat = join_both(base, relay_server, make_browser, cid, patient)
    drivers = {"GP": sarah, "patient": pat}
    wait_flowing(drivers, "audio")
    wait_flowing(drivers, "video", min_growth=20000)
    for who, d in drivers.items():
        s = stats(d)
        assert s["localType"] == "relay", f"the {who}'s selected candidate pair is local {s['localType']!r}, not relay: {s}"
        assert d.execute_script("return window.confideCall.pc.getConfiguration().iceTransportPolicy") == "relay"
    end_call(base, sarah, pat, api, cid)
    for who, d in drivers.items():
        errors = console_errors(d)
        assert not errors, f"console errors on the {who}'s page: {errors}"
    assert "Traceback" not in text_of(sarah)
