"""SIGKILL during recording uploads, CI-sized (CONFIDE_CRASH_KILLS, default 6): after each restart no
acknowledged chunk is lost, every recording plays exactly the acknowledged bytes and only to its own
patient, and `confide audit verify` passes. scripts/crash-recordings runs the full drill (50 kills)."""

from __future__ import annotations

import os

from crash_drill import run_drill


def test_sigkill_during_uploads_loses_nothing_acknowledged(server, tmp_path):
    kills = int(os.environ.get("CONFIDE_CRASH_KILLS", "6"))
    database_url = os.environ.get("CONFIDE_E2E_DATABASE_URL")
    # On a shared PostgreSQL the session's server seeded the demo; its log holds the GP's TOTP secret.
    shared = dict(demo_log=server.log_text(), data_dir=server.data_dir) if database_url else {}
    result = run_drill(tmp_path, kills=kills, database_url=database_url, **shared)
    print(f"crash drill: {result}")
    assert result["starts"] == kills + 1
