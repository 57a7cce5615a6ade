"""The breach report streams (issue 8, bad input: "a very large window ... test it under a memory
cap"). The log is verified in batches and the report walks it in batches, so a report over ten
times as many entries needs about the same memory. Peak resident memory of each run is measured
with wait4; the full-size variant (10^6 entries) is `scripts/breach-memory`."""

from __future__ import annotations

import json
import os
import time
import pytest

from audit_fill import fill
from test_cli import BIN, demo_server

pytestmark = pytest.mark.skipif(bool(os.environ.get("CONFIDE_E2E_DATABASE_URL")), reason="fills a private SQLite file")


def run_measured(args: list[str]) -> tuple[int, str, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFIDE_")}
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: exec the CLI with stdout and stderr into the pipe
        os.close(r)
        os.dup2(w, 1)
        os.dup2(w, 2)
        os.execve(BIN, [BIN, *args], env)
    os.close(w)
    chunks = []
    with os.fdopen(r, "rb") as f:
        while data := f.read(65536):
            chunks.append(data)
    _, status, usage = os.wait4(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode(errors="replace"), usage.ru_maxrss


def test_report_memory_does_not_grow_with_the_log(tmp_path):
    server, base, data = demo_server(tmp_path)
    time.sleep(2.5)
    server.terminate()
    server.wait(timeout=20)
    db = data / "confide.sqlite"
    window = ["--from", "2026-01-01", "--to", "2100-01-01", "--json"]
    base_ms = int(time.time() * 1000) - 3_600_000
    fill(db, 20_000, base_ms)
    code, out, small = run_measured(["breach", "report", "--demo", "--data-dir", str(data), *window])
    assert code == 0, out
    examined_small = json.loads(out[out.index("{"):out.rindex("}") + 1])["summary"]["entries_examined"]
    fill(db, 180_000, base_ms + 20_000)
    code, out, large = run_measured(["breach", "report", "--demo", "--data-dir", str(data), *window])
    assert code == 0, out
    report = json.loads(out[out.index("{"):out.rindex("}") + 1])
    assert report["summary"]["entries_examined"] >= examined_small + 180_000 and report["findings"] == []
    print(f"peak RSS: {small} KiB with ~20k entries, {large} KiB with ~200k entries ({large / small:.2f}x)")
    # Ten times the log, not ten times the memory: holding the log would add well over 60 MB here.
    assert large < small * 1.35 + 8_192, (small, large)
