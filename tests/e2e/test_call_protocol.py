"""The call signalling protocol (docs/design/calls.md) over raw WebSockets against the real server:
who may join (and that refusals are audited), the happy path of a consultation call, bad input
and its close codes, duplicate joins and resume, and reconnecting after a dropped connection.

Each test books its own consultation with a fresh patient. The session server opens calls two
weeks before the appointment (`--call-opens-minutes-before 20160`), so any slot is joinable."""

from __future__ import annotations

import collections
import json
import socket
import time
import uuid

import pytest
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from helpers import PASSWORD
from test_http_clinic import Api, new_patient, riverside, staff

RECV_TIMEOUT = 5.0
SDP = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def gp(server) -> Api:
    """Dr Sarah Okafor (Riverside GP), signed in once per module (a TOTP step is single-use)."""
    return staff(server, "sarah.okafor@demo.confide.test")


@pytest.fixture(scope="module")
def marc(server) -> Api:
    """Dr Marc Gagnon: a GP of the other practice (Lakeshore), not a participant."""
    return staff(server, "marc.gagnon@demo.confide.test")


def book(server) -> tuple[Api, str, dict]:
    """A fresh patient of Riverside with a video consultation with the demo GP: (patient, id, profile)."""
    patient, profile = new_patient(server)
    assert patient.call("PUT", "/api/v1/me/practice", {"practice_id": riverside(patient)}).status_code == 204
    slots = patient.call("GET", "/api/v1/slots?role=gp&modality=video&days=14&limit=1").json()["slots"]
    assert slots, "the demo GP offers video slots within two weeks"
    slot = slots[0]
    r = patient.call("POST", "/api/v1/consultations", {"clinician_id": slot["clinician_id"], "start": slot["start"], "modality": "video"})
    assert r.status_code == 201, r.text
    return patient, r.json()["id"], profile


def ws_url(server, cid: str, resume: str | None = None) -> str:
    url = f"ws://{server.host}:{server.port}/api/v1/consultations/{cid}/call/ws"
    return url + (f"?resume={resume}" if resume else "")


def open_ws(server, cid: str, headers: dict | None, resume: str | None = None) -> ClientConnection:
    return connect(ws_url(server, cid, resume), additional_headers=headers or {}, open_timeout=10, close_timeout=3, legacy=True)


def recv(ws: ClientConnection, timeout: float = RECV_TIMEOUT) -> dict:
    raw = ws.recv(timeout=timeout)
    assert isinstance(raw, str), f"the server sent a binary frame: {raw!r}"
    return json.loads(raw)


def expect(ws: ClientConnection, type_: str, timeout: float = RECV_TIMEOUT) -> dict:
    """The next message, which must be of this type."""
    m = recv(ws, timeout)
    assert m["type"] == type_, f"expected {type_!r}, got {m}"
    return m


def until(ws: ClientConnection, type_: str, timeout: float = RECV_TIMEOUT) -> tuple[dict, list[dict]]:
    """Reads until a message of this type: (it, the messages before it)."""
    before = []
    deadline = time.monotonic() + timeout
    while True:
        m = recv(ws, max(0.1, deadline - time.monotonic()))
        if m["type"] == type_:
            return m, before
        before.append(m)


def send(ws: ClientConnection, message: dict) -> None:
    ws.send(json.dumps(message))


def closed(ws: ClientConnection, timeout: float = RECV_TIMEOUT) -> tuple[int | None, list[dict]]:
    """Reads until the server closes: (close code received, the messages before the close)."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            raw = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
            seen.append(json.loads(raw) if isinstance(raw, str) else {"binary": raw})
    except ConnectionClosed as e:
        return (e.rcvd.code if e.rcvd is not None else None), seen
    except TimeoutError:
        raise AssertionError(f"the connection was not closed within {timeout} s; received {seen}") from None


def alive(ws: ClientConnection) -> list[dict]:
    """Ping, and the connection answers pong: returns the messages that came before the pong."""
    send(ws, {"type": "ping"})
    _, before = until(ws, "pong")
    return before


def join(server, api: Api | None, cid: str, resume: str | None = None) -> tuple[ClientConnection, dict]:
    ws = open_ws(server, cid, api.headers if api else None, resume)
    return ws, expect(ws, "welcome")


def start_call(server, patient: Api, gp: Api, cid: str):
    """Patient then GP join; returns (patient ws, GP ws, patient welcome, GP welcome), drained."""
    p, pw = join(server, patient, cid)
    c, cw = join(server, gp, cid)
    assert expect(p, "peer-joined") == {"type": "peer-joined", "role": "clinician", "resumed": False}
    assert expect(p, "status") == {"type": "status", "status": "in-progress"}
    return p, c, pw, cw


def status_of(api: Api, cid: str) -> str:
    r = api.call("GET", f"/api/v1/consultations/{cid}")
    assert r.status_code == 200, r.text
    return r.json()["status"]


def refused_upgrade(server, cid: str, headers: dict | None) -> None:
    """The upgrade is refused: HTTP 400, an empty body, no upgrade."""
    with pytest.raises(InvalidStatus) as info:
        ws = open_ws(server, cid, headers)
        ws.close()
    response = info.value.response
    assert response.status_code == 400, (response.status_code, response.body)
    assert not response.body, response.body
    assert "upgrade" not in {k.lower() for k in response.headers.keys()}, dict(response.headers)


def problem_404(server, path: str, headers: dict | None) -> None:
    r = requests.get(server.url(path), headers=headers or {}, timeout=30)
    assert r.status_code == 404, f"{r.status_code} {r.text}"
    assert r.headers.get("Content-Type", "").startswith("application/problem+json"), r.headers
    assert r.json()["type"] == "urn:confide:problem:not-found", r.text


def join_attempts(patient: Api) -> list[dict]:
    log = patient.call("GET", "/api/v1/me/access-log?limit=200")
    assert log.status_code == 200, log.text
    return [e for e in log.json()["entries"] if e["action"] == "join"]


# --------------------------------------------------------------------------- 1. who may join


def test_unauthorised_joins_are_refused_alike_and_audited(server, gp, marc):
    alice, cid, _ = book(server)
    bob, _ = new_patient(server)
    before = {e["index"] for e in join_attempts(alice)}
    intruders = {"unrelated patient": bob.headers, "GP of another practice": marc.headers, "anonymous": None}
    for who, headers in intruders.items():
        try:
            refused_upgrade(server, cid, headers)
        except AssertionError as e:
            raise AssertionError(f"{who}: {e}") from e
    # No such consultation, for a real participant elsewhere: the same answer.
    refused_upgrade(server, str(uuid.uuid4()), gp.headers)

    # Every WebSocket refusal against Alice's consultation is in her access log, as a refused join.
    new = [e for e in join_attempts(alice) if e["index"] not in before]
    assert sorted(e["who"] for e in new) == ["Another account", "Marc Gagnon", "Someone not signed in"], new
    assert all(e["decision"] == "denied" and e["resource_type"] == "consultation" and e["purpose"] == "call" for e in new), new

    # The join information route answers the same people with a problem+json 404
    # (anonymous: see test_join_information_for_anonymous).
    for who, headers in (("unrelated patient", bob.headers), ("GP of another practice", marc.headers)):
        try:
            problem_404(server, f"/api/v1/consultations/{cid}/call", headers)
        except AssertionError as e:
            raise AssertionError(f"{who}: {e}") from e
    problem_404(server, f"/api/v1/consultations/{uuid.uuid4()}/call", gp.headers)
    # The participants themselves are told their role.
    assert alice.call("GET", f"/api/v1/consultations/{cid}/call").json()["role"] == "patient"
    info = gp.call("GET", f"/api/v1/consultations/{cid}/call").json()
    assert info["role"] == "clinician" and info["joinable"] is True, info
    assert info["ws_url"] == f"/api/v1/consultations/{cid}/call/ws"


def test_a_revoked_session_is_refused_and_audited(server):
    """calls.md: a revoked session is refused like every other case (400, no upgrade), the attempt
    is audited (`join`, denied), and the join-information route answers it with a problem+json 404."""
    alice, cid, profile = book(server)
    # A second session of Alice's, signed out: its token is dead.
    s = requests.post(server.url("/api/v1/sessions"), json={"email": profile["email"], "password": PASSWORD}, timeout=30)
    assert s.status_code == 201, s.text
    revoked = {"Authorization": "Bearer " + s.json()["token"]}
    assert requests.delete(server.url("/api/v1/sessions/current"), headers=revoked, timeout=30).status_code in (200, 204)
    assert requests.get(server.url("/api/v1/me"), headers=revoked, timeout=30).status_code == 401

    before = {e["index"] for e in join_attempts(alice)}
    refused_upgrade(server, cid, revoked)
    new = [e for e in join_attempts(alice) if e["index"] not in before]
    info = requests.get(server.url(f"/api/v1/consultations/{cid}/call"), headers=revoked, timeout=30)
    problems = []
    if [(e["who"], e["decision"]) for e in new] != [("Someone not signed in", "denied")]:
        problems.append(f"the refused upgrade is not audited as a denied join in the patient's access log (new join entries: {new})")
    if info.status_code != 401 or not info.headers.get("Content-Type", "").startswith("application/problem+json"):
        problems.append(f"GET /call with the revoked token answers {info.status_code} {info.text}, not a problem+json 401")
    assert not problems, "; ".join(problems)


def test_join_information_for_anonymous(server):
    """calls.md: without a valid session the join-information route answers the usual
    problem+json 401 (it names nothing about the consultation)."""
    _, cid, _ = book(server)
    r = requests.get(server.url(f"/api/v1/consultations/{cid}/call"), timeout=30)
    assert r.headers.get("Content-Type", "").startswith("application/problem+json"), r.headers
    assert r.status_code == 401, f"{r.status_code} {r.text}"
    assert r.json()["type"] == "urn:confide:problem:unauthenticated", r.text


# --------------------------------------------------------------------------- 2. happy path


def test_a_whole_call_over_the_raw_protocol(server, gp):
    patient, cid, _ = book(server)
    p, pw = join(server, patient, cid)
    try:
        assert pw["role"] == "patient" and pw["consultation"] == cid and pw["status"] == "booked", pw
        assert pw["modality"] == "video" and pw["peers"] == [] and pw["location"] is None, pw
        assert isinstance(pw["resumeToken"], str) and len(pw["resumeToken"]) >= 32, pw
        assert set(pw) == {"type", "role", "consultation", "resumeToken", "status", "modality", "peers", "location"}, pw

        c, cw = join(server, gp, cid)
        assert cw["role"] == "clinician" and cw["consultation"] == cid and cw["status"] == "in-progress", cw
        assert cw["peers"] == [{"role": "patient", "mode": "video", "muted": False}], cw
        assert cw["location"] is None and cw["resumeToken"] != pw["resumeToken"], cw
        assert expect(p, "peer-joined") == {"type": "peer-joined", "role": "clinician", "resumed": False}
        assert expect(p, "status") == {"type": "status", "status": "in-progress"}
        assert status_of(patient, cid) == "in-progress"

        # Negotiation: the server sets `from`.
        send(c, {"type": "offer", "sdp": SDP})
        assert expect(p, "offer") == {"type": "offer", "from": "clinician", "sdp": SDP}
        answer = SDP.replace("127.0.0.1", "127.0.0.2")
        send(p, {"type": "answer", "sdp": answer})
        assert expect(c, "answer") == {"type": "answer", "from": "patient", "sdp": answer}
        cand = {"candidate": "candidate:1 1 udp 2122260223 192.0.2.10 54321 typ host", "sdpMid": "0", "sdpMLineIndex": 0}
        send(p, {"type": "candidate", **cand})
        assert expect(c, "candidate") == {"type": "candidate", "from": "patient", **cand}
        send(c, {"type": "candidate", "candidate": "", "sdpMid": None, "sdpMLineIndex": None})
        assert expect(p, "candidate") == {"type": "candidate", "from": "clinician", "candidate": "", "sdpMid": None, "sdpMLineIndex": None}

        # Media changes.
        send(p, {"type": "media", "mode": "audio-only", "muted": True})
        assert expect(c, "media") == {"type": "media", "from": "patient", "mode": "audio-only", "muted": True}
        send(c, {"type": "media", "mode": "video", "muted": True})
        assert expect(p, "media") == {"type": "media", "from": "clinician", "mode": "video", "muted": True}

        # Chat: saved, echoed to the sender, relayed to the other.
        send(p, {"type": "chat", "text": "  Hello doctor, I can't hear you  "})
        mine, theirs = expect(p, "chat"), expect(c, "chat")
        assert mine == theirs, (mine, theirs)
        assert mine["from"] == "patient" and mine["text"] == "Hello doctor, I can't hear you", mine
        assert mine["at"].endswith("Z") and mine["id"], mine
        send(c, {"type": "chat", "text": "Try the chat, then.\nLine two"})
        reply = expect(c, "chat")
        assert expect(p, "chat") == reply and reply["from"] == "clinician", reply
        for api in (patient, gp):
            saved = api.call("GET", f"/api/v1/consultations/{cid}/chat")
            assert saved.status_code == 200, saved.text
            assert [(m["id"], m["from"], m["text"]) for m in saved.json()["messages"]] == [
                (mine["id"], "patient", "Hello doctor, I can't hear you"), (reply["id"], "clinician", "Try the chat, then.\nLine two")]
        # Each line is an item of its own in the patient's access log: the GP wrote one, was
        # delivered the patient's, and was presented both in the list.
        log = patient.call("GET", "/api/v1/me/access-log?limit=200").json()["entries"]
        by_gp = collections.Counter(
            e["action"] for e in log if e["resource_type"] == "message" and e["who"] == "Sarah Okafor" and e["decision"] == "allowed")
        assert by_gp == {"create": 1, "read": 1, "list": 2}, by_gp

        # Location: shown to the clinician only.
        send(p, {"type": "location", "address": "12 Acacia Avenue, London N1 9GU"})
        loc = expect(c, "location")
        assert loc["address"] == "12 Acacia Avenue, London N1 9GU" and loc["at"].endswith("Z"), loc
        assert alive(p) == [], "the patient is not sent their own location"
        assert gp.call("GET", f"/api/v1/consultations/{cid}/call").json()["location"] == "12 Acacia Avenue, London N1 9GU"

        # The GP ends the consultation: both are told, both closed normally.
        send(c, {"type": "end"})
        assert expect(c, "ended") == {"type": "ended"}
        assert expect(p, "ended") == {"type": "ended"}
        assert closed(c) == (1000, [])
        code, rest = closed(p)
        assert code == 1000, (code, rest)
        assert rest in ([], [{"type": "peer-left", "role": "clinician", "reason": "hangup"}]), rest
        assert status_of(patient, cid) == "ended"
    finally:
        p.close()

    # Joining after the end: upgraded, told why, closed with 4410.
    late = open_ws(server, cid, patient.headers)
    code, seen = closed(late)
    assert code == 4410, (code, seen)
    assert [m["type"] for m in seen] == ["error"], seen
    info = patient.call("GET", f"/api/v1/consultations/{cid}/call").json()
    assert info["joinable"] is False and info["status"] == "ended", info


# --------------------------------------------------------------------------- 3. bad input


class Room:
    """A running call between a fresh patient and the GP, where one side misbehaves."""

    def __init__(self, server, gp: Api) -> None:
        self.server = server
        self.patient, self.cid, _ = book(server)
        self.api = {"patient": self.patient, "clinician": gp}
        p, c, _, _ = start_call(server, self.patient, gp, self.cid)
        self.ws = {"patient": p, "clinician": c}
        self.observed: dict[str, int | None] = {}

    @staticmethod
    def other(role: str) -> str:
        return "clinician" if role == "patient" else "patient"

    def offend(self, name: str, frames, code: int, role: str = "patient") -> None:
        """`role` sends these frames: closed with `code`; the other participant is told it left and
        keeps working; the seat is free again, so it joins again without a token."""
        ws, other = self.ws[role], self.ws[self.other(role)]
        for frame in frames:
            try:
                ws.send(frame)
            except ConnectionClosed:
                break
        got, seen = closed(ws, timeout=10)
        self.observed[name] = got
        assert got == code, f"{name}: closed with {got}, expected {code}; last messages before the close: {seen[-3:]}"
        assert all(m.get("type") in ("pong", "error") for m in seen), (name, seen)
        left, before = until(other, "peer-left")
        assert left == {"type": "peer-left", "role": role, "reason": "dropped"} and before == [], (name, left, before)
        assert alive(other) == [], name
        self.ws[role], welcome = join(self.server, self.api[role], self.cid)
        assert welcome["status"] == "in-progress" and [x["role"] for x in welcome["peers"]] == [self.other(role)], welcome
        assert expect(other, "peer-joined") == {"type": "peer-joined", "role": role, "resumed": False}
        assert alive(other) == [] and alive(self.ws[role]) == [], name

    def close(self) -> None:
        print("observed close codes:", self.observed)
        for ws in self.ws.values():
            ws.close()


def test_bad_input_closes_the_offender_only(server, gp):
    room = Room(server, gp)
    try:
        room.offend("not JSON", ["this is not json"], 4400)
        room.offend("unknown type", [json.dumps({"type": "teleport"})], 4400)
        room.offend("client-supplied from", [json.dumps({"type": "chat", "text": "hi", "from": "clinician"})], 4400)
        room.offend("client-supplied from (clinician)", [json.dumps({"type": "offer", "sdp": SDP, "from": "patient"})], 4400, "clinician")
        room.offend("unknown field to", [json.dumps({"type": "ping", "to": "clinician"})], 4400)
        room.offend("wrong field type", [json.dumps({"type": "media", "mode": "video", "muted": "yes"})], 4400)
        room.offend("offer not starting v=0", [json.dumps({"type": "offer", "sdp": "hello"})], 4400, "clinician")
        room.offend("chat of control characters", [json.dumps({"type": "chat", "text": "bell\u0007"})], 4400)
        room.offend("frame over 64 KiB", [json.dumps({"type": "chat", "text": "x" * (65 * 1024)})], 1009)
        room.offend("binary frame", [b"\x00\x01\x02"], 4400)
        room.offend("binary frame (clinician)", [b"{}"], 4400, "clinician")
    finally:
        room.close()


def test_refused_messages_keep_the_connection_until_the_fifth(server, gp):
    room = Room(server, gp)
    p, c = room.ws["patient"], room.ws["clinician"]
    try:
        # Well formed but not allowed now: an error, and the connection stays open.
        send(p, {"type": "answer", "sdp": SDP})
        err = expect(p, "error")
        assert err["code"] == "out-of-order" and err["message"], err
        assert alive(p) == [] and alive(c) == []
        send(p, {"type": "end"})
        assert expect(p, "error")["code"] == "not-allowed"
        assert alive(p) == [] and status_of(room.patient, room.cid) == "in-progress"
        send(c, {"type": "location", "address": "The surgery"})
        assert expect(c, "error")["code"] == "not-allowed"
        assert alive(c) == [] and alive(p) == []
        # Two refused so far on the patient's connection; the fifth closes it with 4400.
        send(p, {"type": "candidate", "candidate": "", "sdpMid": None, "sdpMLineIndex": None})
        assert expect(p, "error")["code"] == "out-of-order"
        send(p, {"type": "answer", "sdp": SDP})
        assert expect(p, "error")["code"] == "out-of-order"
        assert alive(p) == []
        room.offend("fifth refused message", [json.dumps({"type": "answer", "sdp": SDP})], 4400)

        # A new connection counts afresh: four refusals leave it open, the fifth closes it.
        p = room.ws["patient"]
        for _ in range(4):
            send(p, {"type": "end"})
            assert expect(p, "error")["code"] == "not-allowed"
        assert alive(p) == []
        room.offend("fifth refused message (new connection)", [json.dumps({"type": "end"})], 4400)
        # The clinician's connection counts its own refusals (one so far) and still relays.
        send(c, {"type": "offer", "sdp": SDP})
        assert expect(room.ws["patient"], "offer")["from"] == "clinician"
    finally:
        room.close()


def test_flooding_closes_with_4429(server, gp):
    room = Room(server, gp)
    try:
        room.offend("flood of 200 pings", [json.dumps({"type": "ping"})] * 200, 4429)
    finally:
        room.close()


# --------------------------------------------------------------------------- 4. duplicate join


def test_duplicate_join_and_resume(server, gp):
    patient, cid, _ = book(server)
    p1, c, pw, _ = start_call(server, patient, gp, cid)
    try:
        # The same patient again, without the token: refused, the first connection unharmed.
        dup = open_ws(server, cid, patient.headers)
        code, seen = closed(dup)
        assert code == 4409, (code, seen)
        assert [(m["type"], m.get("code")) for m in seen] == [("error", "already-joined")], seen
        assert alive(p1) == [] and alive(c) == []

        # With the resume token: the new connection takes over, the old one is closed with 4000.
        p2, w2 = join(server, patient, cid, resume=pw["resumeToken"])
        assert w2["role"] == "patient" and w2["status"] == "in-progress", w2
        assert [x["role"] for x in w2["peers"]] == ["clinician"], w2
        code, seen = closed(p1)
        assert code == 4000, (code, seen)
        joined, before = until(c, "peer-joined")
        assert joined == {"type": "peer-joined", "role": "patient", "resumed": True}, (joined, before)
        assert before == [], before
        # The GP does not see the old connection leave; signalling reaches the new connection.
        assert alive(c) == []
        send(c, {"type": "offer", "sdp": SDP})
        assert expect(p2, "offer") == {"type": "offer", "from": "clinician", "sdp": SDP}
        send(p2, {"type": "answer", "sdp": SDP})
        assert expect(c, "answer")["from"] == "patient"

        # The token was single-use: the old one no longer takes the seat.
        stale = open_ws(server, cid, patient.headers, resume=pw["resumeToken"])
        code, seen = closed(stale)
        assert code == 4409, (code, seen)
        assert alive(p2) == [] and alive(c) == []
        p2.close()
    finally:
        p1.close()
        c.close()


# --------------------------------------------------------------------------- 5. reconnect after a drop


def test_reconnect_after_a_dropped_connection(server, gp):
    patient, cid, _ = book(server)
    p, c, _, _ = start_call(server, patient, gp, cid)
    try:
        # The patient's network goes: the TCP connection closes without a close frame.
        p.socket.shutdown(socket.SHUT_RDWR)
        p.socket.close()
        left = expect(c, "peer-left", timeout=10)
        assert left == {"type": "peer-left", "role": "patient", "reason": "dropped"}, left
        assert status_of(patient, cid) == "in-progress"
        assert alive(c) == []

        # The seat is disconnected: the patient joins again without a token.
        p2, welcome = join(server, patient, cid)
        assert welcome["status"] == "in-progress", welcome
        assert welcome["peers"] == [{"role": "clinician", "mode": "video", "muted": False}], welcome
        assert expect(c, "peer-joined") == {"type": "peer-joined", "role": "patient", "resumed": False}
        send(c, {"type": "offer", "sdp": SDP})
        assert expect(p2, "offer")["from"] == "clinician"
        assert status_of(gp, cid) == "in-progress"
        # A hangup leaves the room, the consultation goes on.
        send(p2, {"type": "hangup"})
        assert closed(p2) == (1000, [])
        assert expect(c, "peer-left") == {"type": "peer-left", "role": "patient", "reason": "hangup"}
        assert status_of(gp, cid) == "in-progress"
    finally:
        p.close()
        c.close()


# --------------------------------------------------------------------------- 6. a second clinician


@pytest.fixture(scope="module")
def nurse(server) -> Api:
    """James Whitfield, a nurse of Riverside: the colleague the GP invites."""
    return staff(server, "james.whitfield@demo.confide.test")


def account_id(api: Api) -> str:
    r = api.call("GET", "/api/v1/me")
    assert r.status_code == 200, r.text
    return r.json()["account_id"]


def test_a_second_clinician_joins_only_with_the_patients_consent(server, gp, nurse):
    patient, cid, _ = book(server)
    base = f"/api/v1/consultations/{cid}/call/invitations"
    p, c, _, _ = start_call(server, patient, gp, cid)
    try:
        # The patient cannot invite; the GP invites the nurse; the patient is asked in the call.
        r = patient.call("POST", base, {"clinician_id": account_id(nurse)})
        assert r.status_code == 409, r.text
        r = gp.call("POST", base, {"clinician_id": account_id(nurse)})
        assert r.status_code == 201, r.text
        invitation = r.json()
        assert invitation["status"] == "pending" and invitation["clinician_name"] == "James Whitfield", invitation
        asked, _ = until(p, "invitation")
        assert asked == {"type": "invitation", "id": invitation["id"], "clinician_name": "James Whitfield"}, asked
        # A second invitation while one is pending: a clear conflict.
        assert gp.call("POST", base, {"clinician_id": account_id(nurse)}).status_code == 409
        # Before consent the nurse is refused like any stranger (and sees no join information).
        refused_upgrade(server, cid, nurse.headers)
        problem_404(server, f"/api/v1/consultations/{cid}/call", nurse.headers)
        # The GP cannot answer for the patient; the patient consents.
        assert gp.call("POST", f"{base}/{invitation['id']}/answer", {"consent": True}).status_code == 409
        r = patient.call("POST", f"{base}/{invitation['id']}/answer", {"consent": True})
        assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
        answered, _ = until(c, "invitation-answer")
        assert answered["status"] == "accepted", answered
        # The nurse joins as the guest and sees both; both see the guest.
        n, nw = join(server, nurse, cid)
        assert nw["role"] == "guest" and nw["location"] is None, nw
        assert sorted(x["role"] for x in nw["peers"]) == ["clinician", "patient"], nw
        assert until(p, "peer-joined")[0]["role"] == "guest"
        assert until(c, "peer-joined")[0]["role"] == "guest"
        # Addressed signalling reaches only its addressee.
        send(c, {"type": "offer", "sdp": SDP, "to": "guest"})
        got = expect(n, "offer")
        assert got["from"] == "clinician" and got["to"] == "guest", got
        send(n, {"type": "answer", "sdp": SDP, "to": "clinician"})
        assert expect(c, "answer")["from"] == "guest"
        assert [m["type"] for m in alive(p)] == [], "the patient must not see signalling addressed to others"
        # The guest cannot end the consultation; still nothing else of it opens to them.
        send(n, {"type": "end"})
        assert expect(n, "error")["code"] == "not-allowed"
        assert nurse.call("GET", f"/api/v1/consultations/{cid}").status_code == 404
        assert nurse.call("GET", f"/api/v1/consultations/{cid}/note").status_code == 404
        # The patient withdraws: the nurse is closed with 4403 and cannot come back.
        assert patient.call("DELETE", f"{base}/{invitation['id']}").status_code == 204
        code, _ = closed(n)
        assert code == 4403, code
        refused_upgrade(server, cid, nurse.headers)
        statuses = [i["status"] for i in gp.call("GET", base).json()["invitations"]]
        assert statuses == ["withdrawn"], statuses
        # The call of patient and GP goes on.
        alive(p)
        alive(c)
    finally:
        for ws in (p, c):
            ws.close()
