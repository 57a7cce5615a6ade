"""SIGKILL during recording uploads, CI-sized (CONFIDE_CRASH_KILLS, default 6): after each restart no
acknowledged chunk is lost, every recording plays exactly the acknowledged bytes and only to its own
patient, and `confide audit verify` passes. scripts/crash-recordings runs the full drill (50 kills)."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from urllib.parse import urlsplit, urlunsplit

from crash_drill import run_drill


def psql(url: str, sql: str) -> None:
    binary = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"
    subprocess.run([binary, "-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql], check=True, capture_output=True, timeout=60)


def test_sigkill_during_uploads_loses_nothing_acknowledged(tmp_path):
    kills = int(os.environ.get("CONFIDE_CRASH_KILLS", "6"))
    shared = os.environ.get("CONFIDE_E2E_DATABASE_URL")
    database_url = None
    if shared:
        # A database of its own: the session's database holds checkpoints signed by other test
        # servers' demo keys, which `audit verify` with this drill's key rightly rejects.
        name = f"confide_crash_{uuid.uuid4().hex[:8]}"
        parts = urlsplit(shared)
        admin = urlunsplit(parts._replace(path="/postgres"))
        psql(admin, f"CREATE DATABASE {name}")
        database_url = urlunsplit(parts._replace(path=f"/{name}"))
    try:
        result = run_drill(tmp_path, kills=kills, database_url=database_url)
    finally:
        if shared:
            psql(admin, f"DROP DATABASE IF EXISTS {name}")
    print(f"crash drill: {result}")
    assert result["starts"] == kills + 1
