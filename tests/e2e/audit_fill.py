"""Appends synthetic audit entries straight into a stopped server's SQLite file, in the canonical
encoding of `AuditEntry+Encoding.swift` (format 1) with their RFC 6962 leaf hashes, so that a log of
any size can be made in seconds. The entries are well-formed accesses to a practice (not patient
data): the breach report examines each and finds nothing. Used by the memory test and by
`scripts/breach-memory`."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
import struct
from pathlib import Path


def token(s: str) -> bytes:
    b = s.encode("ascii")
    return struct.pack(">H", len(b)) + b


def encode(time_ms: int, actor: str, action: str, rtype: str, rid: str, decision: str, rules: list[str], request: str, purpose: str) -> bytes:
    out = b"\x01" + struct.pack(">q", time_ms) + token(actor) + token(action) + token(rtype) + token(rid) + b"\x00"
    out += token(decision) + struct.pack(">H", len(rules)) + b"".join(token(r) for r in rules) + token(request) + token(purpose)
    return out


def fill(db_path: Path, count: int, start_ms: int) -> None:
    with sqlite3.connect(db_path, timeout=60) as db:
        (size,) = db.execute("select count(*) from audit_entries").fetchone()
        rows = []
        for i in range(count):
            data = encode(start_ms + i, "clinician:00000000-0000-4000-8000-000000000001", "read", "practice",
                          f"00000000-0000-4000-8000-{i:012d}", "allowed", ["signed-in.practices.v1"], f"fill-{i}", "care")
            leaf = hashlib.sha256(b"\x00" + data).hexdigest()
            rows.append((size + i, leaf, base64.b64encode(data).decode(), start_ms + i, "clinician:00000000-0000-4000-8000-000000000001",
                         None, "allowed"))
            if len(rows) == 50_000:
                db.executemany("insert into audit_entries (idx, leaf_hash, entry, time, actor, patient_id, decision) values (?,?,?,?,?,?,?)", rows)
                rows = []
        if rows:
            db.executemany("insert into audit_entries (idx, leaf_hash, entry, time, actor, patient_id, decision) values (?,?,?,?,?,?,?)", rows)
