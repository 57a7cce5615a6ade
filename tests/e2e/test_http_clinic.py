"""The clinic over the JSON API against the real server (SQLite, then PostgreSQL in CI): a patient
books, a second patient cannot take the slot or see the booking, the clinician runs the
consultation and signs notes, the patient reads them; every error is problem+json."""

from __future__ import annotations

import uuid

import requests

from helpers import DEMO_PASSWORD, PASSWORD, demo_totp_uri, fresh_totp

JSON = {"Content-Type": "application/json"}


class Api:
    def __init__(self, server, token: str) -> None:
        self.server = server
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, body=None) -> requests.Response:
        headers = dict(self.headers)
        if body is not None:
            headers.update(JSON)
        return requests.request(method, self.server.url(path), json=body, headers=headers, timeout=30)


def new_patient(server) -> tuple[Api, dict]:
    email = f"e2e-clinic-{uuid.uuid4().hex[:10]}@example.com"
    r = requests.post(
        server.url("/api/v1/accounts"),
        json={"email": email, "password": PASSWORD, "given_name": "Wilhelmina", "family_name": "Zanzibar-" + uuid.uuid4().hex[:6],
              "birth_date": "1979-05-06"},
        timeout=30)
    assert r.status_code == 201, r.text
    profile = r.json()
    s = requests.post(server.url("/api/v1/sessions"), json={"email": email, "password": PASSWORD}, timeout=30)
    assert s.status_code == 201, s.text
    return Api(server, s.json()["token"]), profile


def staff(server, email: str) -> Api:
    uri = demo_totp_uri(server.log_text(), email)
    s = requests.post(server.url("/api/v1/sessions"), json={"email": email, "password": DEMO_PASSWORD, "totp": fresh_totp(uri)}, timeout=30)
    assert s.status_code == 201, s.text
    return Api(server, s.json()["token"])


def is_problem(r: requests.Response, status: int, slug: str | None = None) -> None:
    assert r.status_code == status, f"{r.status_code} {r.text}"
    assert r.headers.get("Content-Type", "").startswith("application/problem+json"), r.headers
    if slug:
        assert r.json()["type"] == f"urn:confide:problem:{slug}", r.text


def riverside(api: Api) -> str:
    practices = api.call("GET", "/api/v1/practices").json()["practices"]
    return next(p["id"] for p in practices if p["name"] == "Riverside Medical Centre")


def test_book_run_document_and_isolate(server):
    alice, alice_profile = new_patient(server)
    bob, _ = new_patient(server)
    # Without a practice there is nothing to book.
    is_problem(alice.call("GET", "/api/v1/slots"), 422, "practice-required")
    practice = riverside(alice)
    for api in (alice, bob):
        assert api.call("PUT", "/api/v1/me/practice", {"practice_id": practice}).status_code == 204
    slots = alice.call("GET", "/api/v1/slots?role=gp&modality=video&days=14&limit=5").json()["slots"]
    assert slots, "the demo GP offers video slots within two weeks"
    assert [s["start"] for s in slots] == sorted(s["start"] for s in slots)
    slot = slots[0]
    assert slot["time_zone"] == "Europe/London" and slot["clinician_name"] == "Sarah Okafor"
    booked = alice.call("POST", "/api/v1/consultations", {"clinician_id": slot["clinician_id"], "start": slot["start"], "modality": "video"})
    assert booked.status_code == 201, booked.text
    consultation = booked.json()
    assert consultation["status"] == "booked" and consultation["patient_id"] == alice_profile["patient_id"]
    cid = consultation["id"]
    # The same slot again, by someone else: a clear conflict, nothing created.
    is_problem(bob.call("POST", "/api/v1/consultations", {"clinician_id": slot["clinician_id"], "start": slot["start"], "modality": "video"}), 409, "slot-taken")
    # Bad input: a start that is not a slot, a past one, a bad modality, an unknown field, another's id.
    is_problem(bob.call("POST", "/api/v1/consultations", {"clinician_id": slot["clinician_id"], "start": "2020-01-06T09:00:00Z", "modality": "video"}), 422, "slot-unavailable")
    is_problem(bob.call("POST", "/api/v1/consultations", {"clinician_id": slot["clinician_id"], "start": slot["start"], "modality": "fax"}), 422)
    is_problem(bob.call("POST", "/api/v1/consultations", {"clinician_id": slot["clinician_id"], "start": slot["start"], "modality": "video", "patient_id": alice_profile["patient_id"]}), 422, "unknown-field")
    assert bob.call("GET", "/api/v1/consultations").json()["consultations"] == []
    for path in (f"/api/v1/consultations/{cid}", f"/api/v1/consultations/{cid}/note", f"/api/v1/consultations/{uuid.uuid4()}"):
        is_problem(bob.call("GET", path), 404, "not-found")
    is_problem(bob.call("POST", f"/api/v1/consultations/{cid}/transitions", {"event": "cancel"}), 404, "not-found")
    # The clinician sees the booking, runs the consultation, signs the notes.
    sarah = staff(server, "sarah.okafor@demo.confide.test")
    listed = sarah.call("GET", "/api/v1/consultations?assigned=me").json()["consultations"]
    assert cid in [c["id"] for c in listed]
    is_problem(sarah.call("POST", f"/api/v1/consultations/{cid}/transitions", {"event": "end"}), 409, "transition-not-allowed")
    assert sarah.call("POST", f"/api/v1/consultations/{cid}/transitions", {"event": "start"}).json()["status"] == "in-progress"
    assert sarah.call("POST", f"/api/v1/consultations/{cid}/transitions", {"event": "end"}).json()["status"] == "ended"
    # Allergies are shown while prescribing; a matching medicine warns until acknowledged.
    assert sarah.call("POST", f"/api/v1/consultations/{cid}/allergies", {"substance": "Penicillin", "reaction": "rash"}).status_code == 204
    background = sarah.call("GET", f"/api/v1/consultations/{cid}/background").json()
    assert [a["substance"] for a in background["allergies"]] == ["Penicillin"]
    rx = {"medicine": "Amoxicillin 500 mg", "dose": "500 mg", "route": "oral", "frequency": "three times a day", "quantity": 15,
          "pharmacy": "High Street Pharmacy"}
    is_problem(sarah.call("POST", f"/api/v1/consultations/{cid}/prescriptions", rx), 409, "allergy-warning")
    issued = sarah.call("POST", f"/api/v1/consultations/{cid}/prescriptions", {**rx, "acknowledge_allergy": True})
    assert issued.status_code == 201 and issued.json()["allergy_override"] == "Penicillin", issued.text
    is_problem(bob.call("POST", f"/api/v1/consultations/{cid}/prescriptions/cancellations",
                        {"prescription_id": issued.json()["id"], "reason": "probe"}), 404, "not-found")
    referral = sarah.call("POST", f"/api/v1/consultations/{cid}/documents",
                          {"kind": "referral", "recipient": "Respiratory clinic", "urgency": "routine", "body": "Persistent cough."})
    assert referral.status_code == 201, referral.text
    is_problem(sarah.call("POST", f"/api/v1/consultations/{cid}/documents", {"kind": "referral", "recipient": "X", "urgency": "soon", "body": "Y"}), 422)
    assert [p["medicine"] for p in alice.call("GET", "/api/v1/me/prescriptions").json()["prescriptions"]] == ["Amoxicillin 500 mg"]
    cancel = {"prescription_id": issued.json()["id"], "reason": "Allergy confirmed; changed to clarithromycin"}
    assert sarah.call("POST", f"/api/v1/consultations/{cid}/prescriptions/cancellations", cancel).status_code == 204
    is_problem(sarah.call("POST", f"/api/v1/consultations/{cid}/prescriptions/cancellations", cancel), 409, "conflict")
    assert [p["status"] for p in alice.call("GET", "/api/v1/me/prescriptions").json()["prescriptions"]] == ["cancelled"]
    assert [d["kind"] for d in alice.call("GET", "/api/v1/me/documents").json()["documents"]] == ["referral"]
    for path in (f"/api/v1/consultations/{cid}/prescriptions", f"/api/v1/consultations/{cid}/documents", f"/api/v1/consultations/{cid}/background"):
        is_problem(bob.call("GET", path), 404, "not-found")
    assert bob.call("GET", "/api/v1/me/prescriptions").json()["prescriptions"] == []
    note = {"history": "Cough for a week.", "examination": "Chest clear.", "assessment": "Viral cough.", "plan": "Honey and rest.",
            "sign": True, "expected_version": 0}
    signed = sarah.call("PUT", f"/api/v1/consultations/{cid}/note", note)
    assert signed.status_code == 201 and signed.json()["status"] == "signed", signed.text
    is_problem(sarah.call("PUT", f"/api/v1/consultations/{cid}/note", {**note, "expected_version": 1}), 409, "amendment-required")
    # The patient reads the signed note and the consultation is documented; Bob still sees nothing.
    assert alice.call("GET", f"/api/v1/consultations/{cid}").json()["status"] == "documented"
    versions = alice.call("GET", f"/api/v1/consultations/{cid}/note").json()["versions"]
    assert [v["assessment"] for v in versions] == ["Viral cough."]
    is_problem(bob.call("GET", f"/api/v1/consultations/{cid}/note"), 404, "not-found")
    # Alice's access log shows the clinician's reads of her consultation.
    log = alice.call("GET", "/api/v1/me/access-log").json()["entries"]
    assert any(e["resource_type"] == "consultation" and e["who"] == "Sarah Okafor" for e in log), log[:5]
    assert any(e["resource_type"] == "note" for e in log)
    # The booking confirmation is in the app, content-free.
    notes = alice.call("GET", "/api/v1/me/notifications").json()["notifications"]
    assert [n["kind"] for n in notes] == ["booked"] and "Viral" not in notes[0]["text"]


def test_practice_admin_sees_the_book_without_names_and_no_notes(server):
    patient, _ = new_patient(server)
    assert patient.call("PUT", "/api/v1/me/practice", {"practice_id": riverside(patient)}).status_code == 204
    slot = patient.call("GET", "/api/v1/slots?role=nurse&limit=1").json()["slots"][0]
    booked = patient.call("POST", "/api/v1/consultations", {"clinician_id": slot["clinician_id"], "start": slot["start"], "modality": "video"})
    assert booked.status_code == 201, booked.text
    tom = staff(server, "tom.baker@demo.confide.test")
    book = tom.call("GET", "/api/v1/consultations").json()["consultations"]
    assert booked.json()["id"] in [c["id"] for c in book]
    assert all(c.get("patient_name") is None and c.get("patient_id") is None for c in book)
    assert all(c["practice_name"] == "Riverside Medical Centre" for c in book)
    for c in book[:3]:
        is_problem(tom.call("GET", f"/api/v1/consultations/{c['id']}/note"), 404, "not-found")
