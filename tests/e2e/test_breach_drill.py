"""The breach drills of issue 8, on a real server with the 2020 fault injected.

The server runs with the test-only faults `recording-binds-wrong-patient` (a new recording is bound
to the patient of the previous recording, and the write-time binding check is bypassed) and
`recording-owner-from-row` (reads trust a recording's own owner field); only a debug build accepts
them. Four patients are recorded in turn, so P2's recording is bound to P1, P3's to P2 and P4's to
P3. During the window P1 lists, opens and plays; P2 lists; P3 and P4 do nothing of note.

Drill 1, guard observe-only: the breach report names exactly P2 (opened and played by P1) and P3
(only presented to P2), nobody else, and drafts notices for exactly them. Drill 2, guard enforcing:
no patient receives another's recording, the incidents page lists every blocked attempt, and the
report finds no exposure (the withheld responses never left)."""

from __future__ import annotations

import hashlib
import json
import random
import re
import sqlite3
import time
from datetime import datetime, timedelta, timezone

import os

import pytest
import requests

from crash_drill import Instance, _call, _setup
from test_cli import run
from test_egress_guard import own_server_as, tok
from test_recordings import own_server

# These drills run a server of their own on a private SQLite file; the PostgreSQL pass would repeat them.
pytestmark = pytest.mark.skipif(bool(os.environ.get("CONFIDE_E2E_DATABASE_URL")), reason="ONLY_ONCE: a private SQLite server, run in the SQLite pass")

FAULTS = "recording-binds-wrong-patient,recording-owner-from-row"


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def drill(tmp_path, guard: str):
    """Runs the scenario; returns (instance, gp, uploads, patient ids, window start, the patients' replies)."""
    inst = Instance(tmp_path / f"data-{guard}", None)
    inst.env["CONFIDE_TEST_FAULTS"] = FAULTS
    inst.extra = ["--egress-guard", guard]
    start = datetime.now(timezone.utc) - timedelta(seconds=2)
    inst.start()
    try:
        return scenario(inst, start)
    except BaseException:
        inst.stop()
        raise


def scenario(inst, start: datetime):
    _, gp = own_server(inst)
    ups = _setup(inst, tok(gp), 4, 1, 2048, random.Random(11))
    for up in ups:
        body = up.chunks[0]
        r = requests.put(f"{inst.base}/api/v1/recordings/{up.recording}/segments/0/chunks/0", data=body, timeout=10,
                         headers={"Authorization": f"Bearer {tok(gp)}", "Content-Type": "application/octet-stream",
                                  "X-Content-SHA256": hashlib.sha256(body).hexdigest()})
        assert r.status_code == 201, r.text  # the bypassed binding check lets the misbound upload through
        assert _call(inst.base, tok(gp), "POST", f"/api/v1/recordings/{up.recording}/finish").status_code == 200
    with sqlite3.connect(inst.data / "confide.sqlite", timeout=30) as db:
        pid = [db.execute("select patient_id from consultations where id = ?", (u.consultation,)).fetchone()[0] for u in ups]
        bound = [db.execute("select patient_id from recordings where id = ?", (u.recording,)).fetchone()[0] for u in ups]
    # The fault did what the 2020 bug did: each recording after the first names the previous patient.
    assert bound == [pid[0], pid[0], pid[1], pid[2]], (pid, bound)
    p1, p2 = ups[0].patient["token"], ups[1].patient["token"]
    rec2 = ups[1].recording
    replies = {
        "p1-list": _call(inst.base, p1, "GET", "/api/v1/recordings"),
        "p1-read": _call(inst.base, p1, "GET", f"/api/v1/recordings/{rec2}"),
        "p1-play": _call(inst.base, p1, "GET", f"/api/v1/recordings/{rec2}/segments/0/media"),
        "p2-list": _call(inst.base, p2, "GET", "/api/v1/recordings"),
    }
    return inst, gp, ups, pid, start, replies


def report(inst, start: datetime, *extra: str) -> dict:
    time.sleep(2.5)  # a checkpoint covers the traffic
    inst.stop()
    end = datetime.now(timezone.utc) + timedelta(seconds=1)
    out = run("breach", "report", "--demo", "--data-dir", str(inst.data), "--from", iso(start), "--to", iso(end), "--json", *extra)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)


def test_drill_observe_only_reports_exactly_the_affected_patients_and_drafts_their_notices(tmp_path):
    inst, gp, ups, pid, start, replies = drill(tmp_path, "observe")
    try:
        # Observe-only: the misbound recordings went out.
        assert {r["id"] for r in replies["p1-list"].json()["recordings"]} == {ups[0].recording, ups[1].recording}
        assert replies["p1-read"].status_code == 200 and replies["p1-play"].status_code == 200
        assert [r["id"] for r in replies["p2-list"].json()["recordings"]] == [ups[2].recording]
        _, operator = own_server_as(inst, "priya.nair@demo.confide.test")
        incidents = _call(inst.base, tok(operator), "GET", "/api/v1/admin/incidents").json()["incidents"]
        assert sorted(i["action"] for i in incidents) == ["list", "list", "play", "read"], incidents
        assert all(i["kind"] == "egress-observed" for i in incidents)
    except BaseException:
        inst.stop()
        raise
    result = report(inst, start, "--draft-notices", "--contact", "Confide Data Protection Officer, dpo@confide.test")
    findings = result["findings"]
    # Exactly P2 and P3; P1 and P4 were not exposed (P4's recording was misbound, but nobody browsed it).
    assert result["affected_patients"] == sorted([pid[1], pid[2]]), (result["affected_patients"], pid)
    about_p2 = [f for f in findings if f["patient"] == pid[1]]
    about_p3 = [f for f in findings if f["patient"] == pid[2]]
    assert len(about_p2) + len(about_p3) == len(findings)
    # Presented vs opened vs played, told apart, with the byte range of the playback.
    assert sorted(f["exposure"] for f in about_p2) == ["opened", "played", "presented"], about_p2
    assert all(f["resource_id"] == ups[1].recording and f["recorded_patient"] == pid[0] for f in about_p2)
    assert [f["exposure"] for f in about_p3] == ["presented"], about_p3
    assert next(f for f in about_p2 if f["exposure"] == "played")["detail"].startswith("segment=0")
    assert result["summary"]["patients_affected"] == 2 and result["summary"]["patients_whose_data_was_opened"] == 1
    # Drafts for exactly them, and one regulator summary.
    drafted = result["notices_drafted"]
    assert sorted(n["patient"] for n in drafted if n["kind"] == "patient") == sorted([pid[1], pid[2]])
    assert [n["kind"] for n in drafted].count("regulator") == 1
    with sqlite3.connect(inst.data / "confide.sqlite") as db:
        bodies = dict(db.execute("select patient_id, body from breach_notices where kind = 'patient'").fetchall())
    assert "opened once" in bodies[pid[1]] and "played once" in bodies[pid[1]]
    assert "it was not opened" in bodies[pid[2]] and "dpo@confide.test" in bodies[pid[2]]

    # An operator reviews and sends P2's letter; P2 reads it, P3 cannot (a draft), nobody else can.
    inst.start()
    try:
        _, operator = own_server_as(inst, "priya.nair@demo.confide.test")
        # The same report from the admin pages and the API (the server running): the same findings.
        window = {"from": result["window"]["from"], "to": result["window"]["to"]}
        api = requests.get(inst.base + "/api/v1/admin/breach-report", params=window, headers={"Authorization": f"Bearer {tok(operator)}"}, timeout=60)
        assert api.status_code == 200, api.text
        assert api.json()["findings"] == findings and api.json()["affected_patients"] == result["affected_patients"]
        page = requests.get(inst.base + "/clinic/breach-report", params=window, headers={"Authorization": f"Bearer {tok(operator)}"}, timeout=60)
        assert page.status_code == 200 and f'data-findings="{len(findings)}"' in page.text, page.text[:3000]
        assert sorted(set(re.findall(r'data-patient="([0-9a-f-]+)"', page.text))) == result["affected_patients"]
        assert page.text.count('data-exposure="played"') == 1 and "Draft the notices" in page.text
        p1 = ups[0].patient["token"]
        assert requests.get(inst.base + "/api/v1/admin/breach-report", params=window, headers={"Authorization": f"Bearer {p1}"}, timeout=60).status_code == 404
        notices = _call(inst.base, tok(operator), "GET", "/api/v1/breach-notices").json()["notices"]
        letter = next(n for n in notices if n.get("patient_id") == pid[1])  # the regulator summary has none
        p2, p3 = ups[1].patient["token"], ups[2].patient["token"]
        assert _call(inst.base, p2, "GET", f"/api/v1/breach-notices/{letter['id']}").status_code == 404  # still a draft
        edited = _call(inst.base, tok(operator), "PUT", f"/api/v1/admin/breach-notices/{letter['id']}",
                       {"subject": letter["subject"], "body": letter["body"] + "\n\nWith our apologies,\nConfide", "expected_version": letter["version"]})
        assert edited.status_code == 200, edited.text
        sent = _call(inst.base, tok(operator), "POST", f"/api/v1/admin/breach-notices/{letter['id']}/send")
        assert sent.status_code == 200 and sent.json()["status"] == "sent", sent.text
        mine = _call(inst.base, p2, "GET", "/api/v1/breach-notices").json()["notices"]
        assert [n["id"] for n in mine] == [letter["id"]] and mine[0]["body"].endswith("Confide")
        assert _call(inst.base, p3, "GET", "/api/v1/breach-notices").json()["notices"] == []
        assert _call(inst.base, p3, "GET", f"/api/v1/breach-notices/{letter['id']}").status_code == 404
        assert _call(inst.base, tok(gp_again(inst)), "GET", "/api/v1/breach-notices").status_code == 404
        page = requests.get(inst.base + "/clinic/notices", headers={"Authorization": f"Bearer {p2}"}, timeout=10)
        assert page.status_code == 200 and "With our apologies" in page.text
        notes = _call(inst.base, p2, "GET", "/api/v1/me/notifications").json()
        assert any(n.get("kind") == "breach-notice" for n in notes.get("notifications", [])), notes
    finally:
        inst.stop()


def gp_again(inst):
    return own_server_as(inst, "sarah.okafor@demo.confide.test")[1]


def test_drill_enforcing_no_patient_receives_another_patients_recording(tmp_path):
    inst, gp, ups, pid, start, replies = drill(tmp_path, "enforce")
    try:
        others = {u.recording for u in ups}
        for name, r in replies.items():
            assert r.status_code == 404, (name, r.status_code, r.text)
            assert not any(rec in r.text for rec in others), (name, r.text)
        # P4's misbound recording is not his to see either; P3 sees P4's (misbound to her) withheld.
        p3, p4 = ups[2].patient["token"], ups[3].patient["token"]
        assert _call(inst.base, p4, "GET", f"/api/v1/recordings/{ups[3].recording}").status_code == 404
        assert _call(inst.base, p3, "GET", f"/api/v1/recordings/{ups[3].recording}").status_code == 404
        _, operator = own_server_as(inst, "priya.nair@demo.confide.test")
        incidents = _call(inst.base, tok(operator), "GET", "/api/v1/admin/incidents").json()["incidents"]
        assert len(incidents) == 5 and all(i["kind"] == "egress-withheld" for i in incidents), incidents
        page = requests.get(inst.base + "/clinic/incidents", headers={"Authorization": f"Bearer {tok(operator)}"}, timeout=10)
        assert page.text.count('data-kind="egress-withheld"') == 5
        for i in incidents:
            assert i["request_id"] in page.text and i["resource_id"] in page.text
    except BaseException:
        inst.stop()
        raise
    result = report(inst, start)
    assert result["findings"] == [] and result["affected_patients"] == [], result["findings"]
    assert result["withheld_by_egress_guard"] == 5
