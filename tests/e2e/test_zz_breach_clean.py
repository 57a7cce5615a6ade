"""Runs last (file order): `confide breach report` over everything the e2e suite did on the shared
server. Ordinary use (patients booking, clinicians consulting, calls, recordings, care teams,
break-glass, practice admins, operators, symptom checks) must fail nothing in the independent
relationship check. A finding here is a false positive in the check, or a real exposure in the
product, and either fails the run."""

from __future__ import annotations

import json
import os

import pytest

from test_cli import run


def test_the_whole_e2e_run_has_no_breach_findings(server):
    if os.environ.get("CONFIDE_E2E_DATABASE_URL"):
        pytest.skip("the shared PostgreSQL database also holds other test servers' logs, signed by their own keys")
    result = run(
        "breach", "report", "--demo", "--data-dir", str(server.data_dir), "--from", "2000-01-01", "--to", "2100-01-01", "--json",
        timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["summary"]["accesses_checked"] > 0, report["summary"]
    assert report["findings"] == [], json.dumps(report["findings"][:20], indent=1)
