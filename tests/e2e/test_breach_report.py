"""`confide breach report` against a real server's database (issue 8, first part): after ordinary
traffic it finds nothing; each bad input is a clear error; a tampered log is refused, naming where
it breaks; the run itself is an audit entry."""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
import time

import pytest
import requests

from test_cli import demo_patient_token, demo_server, run


def test_breach_report_clean_run_bad_input_and_a_tampered_log(tmp_path):
    if os.environ.get("CONFIDE_E2E_DATABASE_URL"):
        pytest.skip("tampers with a private SQLite file")
    server, base, data = demo_server(tmp_path)
    try:
        token = demo_patient_token(base)
        for path in ("/api/v1/me", "/api/v1/consultations", "/api/v1/recordings", "/api/v1/me/access-log"):
            assert requests.get(base + path, headers={"Authorization": "Bearer " + token}, timeout=10).status_code == 200
        time.sleep(2.5)  # a checkpoint covers the traffic
    finally:
        server.terminate()
        server.wait(timeout=20)

    window = ["--from", "2000-01-01", "--to", "2100-01-01"]
    ok = run("breach", "report", "--demo", "--data-dir", str(data), *window, "--json")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    report = json.loads(ok.stdout)
    assert report["findings"] == [] and report["affected_patients"] == []
    assert report["summary"]["accesses_checked"] > 0 and report["summary"]["findings"] == 0
    text = run("breach", "report", "--demo", "--data-dir", str(data), *window)
    assert text.returncode == 0 and "Findings: 0" in text.stdout and "Audit log verified" in text.stdout, text.stdout
    csv = run("breach", "report", "--demo", "--data-dir", str(data), *window, "--csv")
    assert csv.returncode == 0 and csv.stdout.splitlines() == ["index,time,patient,recorded_patient,actor,action,resource_type,resource_id,exposure,detail,why"]
    scan = run("breach", "scan", "--demo", "--data-dir", str(data), *window)
    assert scan.returncode == 0 and "Principals over their limit: 0" in scan.stdout, scan.stdout + scan.stderr
    # With a limit of 0 for patients, the demo patient's own reads are flagged (once per window).
    strict = run("breach", "scan", "--demo", "--data-dir", str(data), *window, "--limit", "patient=0")
    assert strict.returncode == 0 and "Principals over their limit: 1" in strict.stdout, strict.stdout + strict.stderr
    # Amelia as a canary: her own session's reads are reported at once.
    with sqlite3.connect(data / "confide.sqlite") as db:
        patient = db.execute("select p.id from patients p join accounts a on a.id = p.account_id where a.email = 'amelia.hart@demo.confide.test'").fetchone()[0]
    canary = run("breach", "scan", "--demo", "--data-dir", str(data), *window, "--canary", patient)
    assert canary.returncode == 0 and "CANARY" in canary.stdout and "Canary accesses: 0" not in canary.stdout, canary.stdout
    bad_canary = run("breach", "scan", "--demo", "--data-dir", str(data), *window, "--canary", "not-an-id")
    assert bad_canary.returncode != 0 and "not a patient id" in bad_canary.stderr
    bad_limit = run("breach", "scan", "--demo", "--data-dir", str(data), *window, "--limit", "wizard=3")
    assert bad_limit.returncode != 0 and "kind=N" in bad_limit.stderr
    # The demo seeds one canary patient; `confide canary create` makes more (registered with a practice).
    with sqlite3.connect(data / "confide.sqlite") as db:
        assert db.execute("select count(*) from canary_patients").fetchone()[0] == 1
        riverside = db.execute("select id from practices where name = 'Riverside Medical Centre'").fetchone()[0]
    made = run("canary", "create", "--demo", "--data-dir", str(data), "--practice", riverside)
    assert made.returncode == 0 and "Created canary patient" in made.stdout, made.stdout + made.stderr
    canary_id = made.stdout.split("Created canary patient ")[1].split(".")[0]
    with sqlite3.connect(data / "confide.sqlite") as db:
        assert db.execute("select count(*) from canary_patients where patient_id = ?", (canary_id,)).fetchone()[0] == 1
    bad = run("canary", "create", "--demo", "--data-dir", str(data), "--practice", "nope")
    assert bad.returncode != 0 and "not a practice id" in bad.stderr
    # Each run is itself in the log (a search by the system path).
    with sqlite3.connect(data / "confide.sqlite") as db:
        runs = [base64.b64decode(e) for (e,) in db.execute("select entry from audit_entries")]
    assert sum(b"breach-report" in e for e in runs) == 3
    assert sum(b"breach-scan" in e for e in runs) == 3

    # Bad input: each a clear error, never a partial report.
    for args, expected in [
        (["--from", "2026-12-01", "--to", "2026-11-01"], "reversed"),
        (["--from", "2026-12-01"], "closed window"),
        (["--to", "2026-12-01"], "closed window"),
        (["--from", "yesterday", "--to", "2026-12-01"], "is not a time"),
        ([*window, "--actor", "clinician:00000000-0000-0000-0000-000000000000"], "unknown actor"),
        ([*window, "--resource-type", "practice"], "not patient data"),
        ([*window, "--json", "--csv"], "choose one"),
    ]:
        bad = run("breach", "report", "--demo", "--data-dir", str(data), *args)
        assert bad.returncode != 0, (args, bad.stdout)
        assert expected in bad.stderr + bad.stdout, (args, bad.stderr)
        assert "Findings" not in bad.stdout and "Traceback" not in bad.stderr

    # A tampered log is refused, naming the first bad index.
    copy = tmp_path / "tampered"
    shutil.copytree(data, copy)
    with sqlite3.connect(copy / "confide.sqlite") as db:
        entry = db.execute("select entry from audit_entries where idx = 3").fetchone()[0]
        raw = bytearray(base64.b64decode(entry))
        raw[-1] ^= 0x01
        db.execute("update audit_entries set entry = ? where idx = 3", (base64.b64encode(bytes(raw)).decode(),))
    refused = run("breach", "report", "--demo", "--data-dir", str(copy), *window)
    assert refused.returncode != 0
    assert "does not verify" in refused.stderr and "first bad index 3" in refused.stderr, refused.stderr
    assert "Findings" not in refused.stdout
