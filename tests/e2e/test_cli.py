"""The `confide` command line: configuration refusals, `migrate`, `user create`, and a staff
sign-in with a TOTP code computed here from the printed otpauth URI (RFC 6238)."""

from __future__ import annotations

import base64
import json
import hashlib
import hmac
import os
import re
import struct
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
BIN = os.environ.get("CONFIDE_BIN", str(REPO / ".build" / "debug" / "confide"))


def totp_now(uri: str, at: float | None = None) -> str:
    secret = parse_qs(urlparse(uri).query)["secret"][0]
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = int((at if at is not None else time.time()) // 30)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = (struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{value:06d}"


def run(*args: str, env: dict[str, str] | None = None, timeout: int = 60) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CONFIDE_") and k != "DATABASE_URL"}
    full_env.update(env or {})
    return subprocess.run([BIN, *args], capture_output=True, text=True, env=full_env, timeout=timeout, stdin=subprocess.DEVNULL)


def database_args() -> list[str]:
    url = os.environ.get("CONFIDE_E2E_DATABASE_URL")
    return ["--database-url", url] if url else []


def test_help_is_available_for_every_command():
    for args in (["--help"], ["serve", "--help"], ["migrate", "--help"], ["user", "create", "--help"]):
        result = run(*args)
        assert result.returncode == 0, result.stderr
        assert "USAGE" in result.stdout.upper()


def test_serve_refuses_to_start_without_a_secret(tmp_path):
    result = run("serve", "--data-dir", str(tmp_path), "--port", "0")
    assert result.returncode != 0
    assert "CONFIDE_SECRET_KEY" in result.stderr
    assert "Fatal error" not in result.stderr and "Stack" not in result.stderr


def test_serve_refuses_a_weak_bcrypt_cost(tmp_path):
    key = base64.b64encode(os.urandom(32)).decode()
    result = run("serve", "--data-dir", str(tmp_path), "--bcrypt-cost", "8", env={"CONFIDE_SECRET_KEY": key})
    assert result.returncode != 0
    assert "bcrypt" in result.stderr


def test_migrate_then_user_create_then_staff_sign_in(tmp_path):
    if os.environ.get("CONFIDE_E2E_DATABASE_URL"):
        pytest.skip("uses a private SQLite file; the PostgreSQL run covers migrations through the server fixture")
    key = base64.b64encode(os.urandom(32)).decode()
    env = {"CONFIDE_SECRET_KEY": key, "CONFIDE_AUDIT_KEY_FILE": str(tmp_path / "audit.key")}
    assert run("audit", "keygen", "--out", str(tmp_path / "audit.key")).returncode == 0
    migrated = run("migrate", "--data-dir", str(tmp_path), env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert re.search(r"schema version [0-9]+", migrated.stdout), migrated.stdout
    again = run("migrate", "--data-dir", str(tmp_path), env=env)
    assert "up to date" in again.stdout

    password_file = tmp_path / "pw"
    password_file.write_text("granite-orchard-puzzle-37\n")
    created = run(
        "user", "create", "--data-dir", str(tmp_path), "--role", "clinician", "--email", "gp.cli@example.org",
        "--given-name", "Imogen", "--family-name", "Ashcombe", "--staff-role", "gp",
        "--registration-number", "GMC-5550001", "--password-file", str(password_file), env=env,
    )
    assert created.returncode == 0, created.stderr
    uri = re.search(r"otpauth://\S+", created.stdout).group(0)
    duplicate = run(
        "user", "create", "--data-dir", str(tmp_path), "--role", "admin", "--email", "GP.CLI@example.org",
        "--given-name", "X", "--family-name", "Y", "--password-file", str(password_file), env=env,
    )
    assert duplicate.returncode != 0
    assert "email-taken" in duplicate.stderr

    port = _free_port()
    server = _serve("--data-dir", str(tmp_path), "--port", str(port), env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait(base)
        body = {"email": "gp.cli@example.org", "password": "granite-orchard-puzzle-37"}
        r = requests.post(base + "/api/v1/sessions", json=body, timeout=10)
        assert r.status_code == 401 and r.json()["type"].endswith("totp-required")
        r = requests.post(base + "/api/v1/sessions", json={**body, "totp": totp_now(uri)}, timeout=10)
        assert r.status_code == 201, r.text
        me = requests.get(base + "/api/v1/me", headers={"Authorization": "Bearer " + r.json()["token"]}, timeout=10)
        assert me.json()["staff_role"] == "gp"
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=20)
    assert server.returncode == 0, out
    for secret in ("Imogen", "Ashcombe", "granite-orchard"):
        assert secret not in out, "personal data or a password reached the server log"


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Starts `confide serve ARGS` with a clean CONFIDE_* environment plus `env`."""
    return subprocess.Popen(
        [BIN, "serve", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("CONFIDE_")}, **(env or {})},
    )


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(base: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if requests.get(base + "/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not start")


def test_dev_cert_and_https(tmp_path):
    import ssl
    import warnings

    made = run("dev-cert", "--out-dir", str(tmp_path / "tls"))
    assert made.returncode == 0, made.stderr
    cert, key = tmp_path / "tls" / "cert.pem", tmp_path / "tls" / "key.pem"
    assert cert.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    port = _free_port()
    server = _serve(
        "--demo", "--data-dir", str(tmp_path / "data"), "--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key), *database_args())
    try:
        base = f"https://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    r = requests.get(base + "/signin", verify=False, timeout=2)
                break
            except requests.RequestException:
                if time.time() > deadline:
                    raise
                time.sleep(0.3)
        assert r.status_code == 200
        assert "max-age" in r.headers["Strict-Transport-Security"]
        assert "Secure" in r.headers["Set-Cookie"]
        pem = ssl.get_server_certificate(("127.0.0.1", port))
        assert pem.strip() == cert.read_text().strip()
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=20)
    assert f"Confide is running at https://127.0.0.1:{port}" in out


def test_emailed_links_over_a_real_smtp_relay(tmp_path):
    """Registration sends a verification link and a reset request sends a reset link, through a
    real SMTP server (aiosmtpd writing a Maildir); following both links works."""
    import mailbox
    import sys

    maildir = tmp_path / "maildir"
    mailbox.Maildir(str(maildir), create=True)
    smtp_port = _free_port()
    relay = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{smtp_port}", "-c", "aiosmtpd.handlers.Mailbox", str(maildir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    key = base64.b64encode(os.urandom(32)).decode()
    assert run("audit", "keygen", "--out", str(tmp_path / "audit.key")).returncode == 0
    port = _free_port()
    server = None
    try:
        _wait_port(smtp_port)
        server = _serve(
            "--data-dir", str(tmp_path / "data"), "--port", str(port), "--smtp-url", f"smtp://127.0.0.1:{smtp_port}",
            "--mail-from", "no-reply@confide.test", *database_args(),
            env={"CONFIDE_SECRET_KEY": key, "CONFIDE_AUDIT_KEY_FILE": str(tmp_path / "audit.key")})
        base = f"http://127.0.0.1:{port}"
        _wait(base)
        email = f"mail.{os.urandom(4).hex()}@example.org"
        r = requests.post(base + "/api/v1/accounts", json={
            "email": email, "password": "saffron-glacier-tandem-6", "given_name": "Wilhelmina", "family_name": "Crabtree",
            "birth_date": "1991-05-17"}, timeout=10)
        assert r.status_code == 201, r.text

        message = _await_mail(maildir, email, "Confirm your email")
        assert message["From"] == "Confide <no-reply@confide.test>"
        body = message.get_payload(decode=True).decode()
        assert "Wilhelmina" not in body and "1991-05-17" not in body
        token = re.search(r"verify-email\?token=([A-Za-z0-9_-]+)", body).group(1)
        assert requests.post(base + "/api/v1/email-verifications", json={"token": token}, timeout=10).status_code == 204
        assert requests.post(base + "/api/v1/email-verifications", json={"token": token}, timeout=10).status_code == 400

        assert requests.post(base + "/api/v1/password-resets", json={"email": email}, timeout=10).status_code == 202
        reset = _await_mail(maildir, email, "Reset your Confide password")
        token = re.search(r"reset-password\?token=([A-Za-z0-9_-]+)", reset.get_payload(decode=True).decode()).group(1)
        r = requests.post(base + "/api/v1/password-resets/complete", json={"token": token, "password": "lilac-harbour-engine-30"}, timeout=10)
        assert r.status_code == 204, r.text
        r = requests.post(base + "/api/v1/sessions", json={"email": email, "password": "lilac-harbour-engine-30"}, timeout=10)
        assert r.status_code == 201
        me = requests.get(base + "/api/v1/me", headers={"Authorization": "Bearer " + r.json()["token"]}, timeout=10).json()
        assert me["email_verified"] is True
        if not os.environ.get("CONFIDE_E2E_DATABASE_URL"):
            # Delivered emails keep no live link in the database; queued ones are sealed.
            import sqlite3

            time.sleep(1.5)
            with sqlite3.connect(tmp_path / "data" / "confide.sqlite") as db:
                bodies = [row[0] for row in db.execute("select body from email_outbox")]
            assert bodies and all(b == "redacted after delivery" or b.startswith("sealed:") for b in bodies), bodies
            assert not any("token=" in b for b in bodies)
    finally:
        if server:
            server.terminate()
            out, _ = server.communicate(timeout=20)
            assert "Wilhelmina" not in out and "Crabtree" not in out
        relay.terminate()
        relay.wait(timeout=10)


def _wait_port(port: int, timeout: float = 20) -> None:
    import socket

    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


def _await_mail(maildir: Path, to: str, subject: str, timeout: float = 20):
    import mailbox

    deadline = time.time() + timeout
    while time.time() < deadline:
        for message in mailbox.Maildir(str(maildir), create=False):
            if to in (message["To"] or "") and subject in (message["Subject"] or ""):
                return message
        time.sleep(0.2)
    raise AssertionError(f"no email '{subject}' arrived")


def test_serve_refuses_to_start_without_an_audit_signing_key(tmp_path):
    key = base64.b64encode(os.urandom(32)).decode()
    result = run("serve", "--data-dir", str(tmp_path), "--port", "0", env={"CONFIDE_SECRET_KEY": key})
    assert result.returncode != 0
    assert "audit-key-file" in result.stderr


def demo_server(tmp_path) -> tuple[subprocess.Popen, str, Path]:
    """A demo server on a data directory of its own, signing a checkpoint every second: (process, base URL, data dir)."""
    data = tmp_path / "data"
    port = _free_port()
    server = _serve("--demo", "--data-dir", str(data), "--port", str(port), env={"CONFIDE_AUDIT_CHECKPOINT_SECONDS": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(base)
    except BaseException:
        server.terminate()
        raise
    return server, base, data


def demo_patient_token(base: str) -> str:
    """A bearer token of the demo patient Amelia Hart."""
    r = requests.post(base + "/api/v1/sessions", json={"email": "amelia.hart@demo.confide.test", "password": "confide-demo-2026"}, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()["token"]


def test_audit_verify_passes_then_names_the_first_tampered_index(tmp_path):
    """Serve a little traffic, publish a signed checkpoint, stop, verify; then alter, delete and
    reorder stored entries and forge a checkpoint: `confide audit verify` fails and names it."""
    if os.environ.get("CONFIDE_E2E_DATABASE_URL"):
        pytest.skip("tampers with a private SQLite file")
    import sqlite3

    server, base, data = demo_server(tmp_path)
    try:
        token = demo_patient_token(base)
        for _ in range(3):
            requests.get(base + "/api/v1/me", headers={"Authorization": "Bearer " + token}, timeout=10)
        deadline = time.time() + 20
        while True:
            feed = requests.get(base + "/api/v1/audit/checkpoints", timeout=10).json()
            if feed["checkpoints"] and int(feed["checkpoints"][-1].split("\n")[1]) >= 9:
                break
            assert time.time() < deadline, feed
            time.sleep(0.5)
        assert feed["verifier_key"].startswith(feed["origin"] + "+")

        # Who has seen my data: download one entry with its inclusion proof and check it offline.
        auth = {"Authorization": "Bearer " + token}
        log = requests.get(base + "/api/v1/me/access-log", headers=auth, timeout=10).json()["entries"]
        covered = [e for e in log if e["index"] < int(feed["checkpoints"][-1].split("\n")[1])]
        proof = requests.get(base + f"/api/v1/me/access-log/{covered[0]['index']}/proof", headers=auth, timeout=10)
        assert proof.status_code == 200, proof.text
        proof_file = tmp_path / "proof.json"
        proof_file.write_text(proof.text)
        checked = run("audit", "check-proof", str(proof_file), "--verifier-key", feed["verifier_key"])
        assert checked.returncode == 0 and checked.stdout.startswith("OK"), checked.stdout + checked.stderr
        forged = proof.json()
        forged["index"] = forged["index"] + 1 if forged["index"] + 1 < forged["tree_size"] else forged["index"] - 1
        proof_file.write_text(json.dumps(forged))
        refused = run("audit", "check-proof", str(proof_file), "--verifier-key", feed["verifier_key"])
        assert refused.returncode != 0
        # Consistency: a later signed checkpoint extends an earlier one, checked offline.
        for _ in range(3):
            requests.get(base + "/api/v1/me", headers=auth, timeout=10)
        deadline = time.time() + 20
        while True:
            feed = requests.get(base + "/api/v1/audit/checkpoints", timeout=10).json()
            sizes = [int(c.split("\n")[1]) for c in feed["checkpoints"]]
            if len(set(sizes)) >= 2:
                break
            assert time.time() < deadline, feed
            time.sleep(0.5)
        old_file, new_file, proof_file = tmp_path / "old.note", tmp_path / "new.note", tmp_path / "consistency.json"
        old_file.write_text(feed["checkpoints"][0])
        new_file.write_text(feed["checkpoints"][-1])
        consistency = requests.get(base + f"/api/v1/audit/consistency-proof?from={sizes[0]}&to={sizes[-1]}", timeout=10)
        assert consistency.status_code == 200, consistency.text
        proof_file.write_text(consistency.text)
        args = ["--proof", str(proof_file), "--verifier-key", feed["verifier_key"]]
        extends = run("audit", "check-consistency", str(old_file), str(new_file), *args)
        assert extends.returncode == 0 and extends.stdout.startswith("OK"), extends.stdout + extends.stderr
        assert run("audit", "check-consistency", str(new_file), str(old_file), *args).returncode != 0
        tampered = consistency.json()
        if tampered["consistency_proof"]:
            first = tampered["consistency_proof"][0]
            tampered["consistency_proof"][0] = ("0" if first[0] != "0" else "1") + first[1:]
            proof_file.write_text(json.dumps(tampered))
            failed = run("audit", "check-consistency", str(old_file), str(new_file), *args)
            assert failed.returncode != 0 and "FAILED" in failed.stdout, failed.stdout + failed.stderr
        # Another patient's entry answers like a missing one.
        other = requests.post(base + "/api/v1/sessions", json={"email": "rohan.mehta@demo.confide.test", "password": "confide-demo-2026"}, timeout=10)
        theirs = requests.get(base + f"/api/v1/me/access-log/{covered[0]['index']}/proof",
                              headers={"Authorization": "Bearer " + other.json()["token"]}, timeout=10)
        assert theirs.status_code == 404
    finally:
        server.terminate()
        server.communicate(timeout=20)

    ok = run("audit", "verify", "--demo", "--data-dir", str(data))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK" in ok.stdout

    db_path = data / "confide.sqlite"

    def tamper(sql: str, *params):
        copy = tmp_path / "tampered"
        if copy.exists():
            import shutil
            shutil.rmtree(copy)
        import shutil
        shutil.copytree(data, copy)
        with sqlite3.connect(copy / "confide.sqlite") as db:
            db.execute(sql, params)
        return run("audit", "verify", "--demo", "--data-dir", str(copy))

    # Alter one entry (its stored leaf hash no longer matches).
    with sqlite3.connect(db_path) as db:
        entry = db.execute("select entry from audit_entries where idx = 4").fetchone()[0]
    raw = bytearray(base64.b64decode(entry))
    raw[-1] ^= 0x01
    flipped = tamper("update audit_entries set entry = ? where idx = 4", base64.b64encode(bytes(raw)).decode())
    assert flipped.returncode == 1 and "first bad index 4" in flipped.stdout, flipped.stdout

    # Alter an entry and its leaf hash together: the signed checkpoint still catches it.
    import hashlib
    new_hash = hashlib.sha256(b"\x00" + bytes(raw)).hexdigest()
    copy_result = tamper("update audit_entries set entry = ?, leaf_hash = ? where idx = 4", base64.b64encode(bytes(raw)).decode(), new_hash)
    assert copy_result.returncode == 1 and "FAILED" in copy_result.stdout

    # Delete the last entries (truncation).
    truncated = tamper("delete from audit_entries where idx >= 6")
    assert truncated.returncode == 1 and "first bad index 6" in truncated.stdout, truncated.stdout

    # Swap two entries.
    with sqlite3.connect(db_path) as db:
        a, b = db.execute("select entry, leaf_hash from audit_entries where idx in (2, 3) order by idx").fetchall()
    swapped = tamper(
        "update audit_entries set entry = case idx when 2 then ? else ? end, leaf_hash = case idx when 2 then ? else ? end where idx in (2, 3)",
        b[0], a[0], b[1], a[1])
    assert swapped.returncode == 1 and "FAILED" in swapped.stdout

    # Forge a checkpoint (a different root under the same size).
    forged = tamper("update audit_checkpoints set note = replace(note, substr(note, instr(note, char(10)) + 1, 1), 'X')")
    assert forged.returncode == 1 and "checkpoint" in forged.stdout.lower(), forged.stdout


def test_booking_confirmation_over_a_real_smtp_relay(tmp_path):
    """A booking sends a confirmation through a real SMTP server (aiosmtpd), carrying no name, time
    or clinical detail, and the same notice appears in the app."""
    import mailbox
    import sys

    maildir = tmp_path / "maildir"
    mailbox.Maildir(str(maildir), create=True)
    smtp_port = _free_port()
    relay = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{smtp_port}", "-c", "aiosmtpd.handlers.Mailbox", str(maildir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    port = _free_port()
    server = None
    try:
        _wait_port(smtp_port)
        server = _serve("--demo", "--data-dir", str(tmp_path / "data"), "--port", str(port), "--smtp-url", f"smtp://127.0.0.1:{smtp_port}",
                        *database_args())
        base = f"http://127.0.0.1:{port}"
        _wait(base)
        email = f"booking.{os.urandom(4).hex()}@example.org"
        password = "saffron-glacier-tandem-6"
        r = requests.post(base + "/api/v1/accounts", json={
            "email": email, "password": password, "given_name": "Wilhelmina", "family_name": "Crabtree", "birth_date": "1991-05-17"},
            timeout=10)
        assert r.status_code == 201, r.text
        auth = {"Authorization": "Bearer " + requests.post(base + "/api/v1/sessions", json={"email": email, "password": password},
                                                           timeout=10).json()["token"]}
        practices = requests.get(base + "/api/v1/practices", headers=auth, timeout=10).json()["practices"]
        riverside = next(p["id"] for p in practices if p["name"] == "Riverside Medical Centre")
        assert requests.put(base + "/api/v1/me/practice", json={"practice_id": riverside}, headers=auth, timeout=10).status_code == 204
        slot = requests.get(base + "/api/v1/slots?limit=1", headers=auth, timeout=10).json()["slots"][0]
        booked = requests.post(base + "/api/v1/consultations", json={"clinician_id": slot["clinician_id"], "start": slot["start"],
                                                                     "modality": slot["modalities"][0]}, headers=auth, timeout=10)
        assert booked.status_code == 201, booked.text
        message = _await_mail(maildir, email, "Your Confide appointment is booked")
        body = message.get_payload(decode=True).decode()
        assert "Sign in" in body
        for secret in ("Wilhelmina", "Crabtree", slot["clinician_name"], slot["start"][:10], slot["start_display"]):
            assert secret not in body, f"the email carries {secret!r}"
        notices = requests.get(base + "/api/v1/me/notifications", headers=auth, timeout=10).json()["notifications"]
        assert [n["kind"] for n in notices] == ["booked"]
    finally:
        if server:
            server.terminate()
            server.communicate(timeout=20)
        relay.terminate()
        relay.wait(timeout=10)
