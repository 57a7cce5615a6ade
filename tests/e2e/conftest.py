"""Fixtures for Confide's browser and protocol tests.

A session-scoped fixture starts the real server binary once per pytest run:

    .build/debug/confide serve --demo --host 127.0.0.1 --port <free> --data-dir <tmp>
        [--database-url $CONFIDE_E2E_DATABASE_URL]

Environment:
    CONFIDE_BIN                path of the server binary (default: <repo>/.build/debug/confide)
    CONFIDE_E2E_DATABASE_URL   run the server on this database instead of SQLite
    CONFIDE_E2E_START_TIMEOUT  seconds to wait for GET /healthz (default 60)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

# Selenium must never start Selenium Manager (it downloads drivers and sends statistics).
os.environ.setdefault("SE_AVOID_STATS", "true")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402

from helpers import DESKTOP, Client, Person  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

_server_log: Path | None = None


# --------------------------------------------------------------------------- server


@dataclass
class Server:
    base_url: str
    host: str
    port: int
    log_path: Path
    process: subprocess.Popen
    data_dir: Path

    def url(self, path: str) -> str:
        return self.base_url + path

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_tail(path: Path, lines: int = 80) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        return f"(no server log: {e})"
    return "\n".join(text.splitlines()[-lines:])


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    global _server_log
    binary = Path(os.environ.get("CONFIDE_BIN", REPO / ".build" / "debug" / "confide"))
    if not binary.exists():
        pytest.fail(f"server binary {binary} does not exist: run `swift build` first", pytrace=False)

    host, port = "127.0.0.1", free_port()
    data_dir = tmp_path_factory.mktemp("confide-data")
    log_path = tmp_path_factory.mktemp("confide-log") / "server.log"
    _server_log = log_path
    cmd = [str(binary), "serve", "--demo", "--host", host, "--port", str(port), "--data-dir", str(data_dir)]
    # Calls open two weeks before the appointment, so any bookable slot can be joined at once.
    cmd += ["--call-opens-minutes-before", "20160"]
    database_url = os.environ.get("CONFIDE_E2E_DATABASE_URL")
    if database_url:
        cmd += ["--database-url", database_url]

    log_file = open(log_path, "wb")
    # The recording jobs (stalled uploads, seekable versions, retention) run every second.
    env = {**os.environ, "CONFIDE_RECORDING_JOB_SECONDS": "1"}
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True, env=env
    )
    base_url = f"http://{host}:{port}"
    srv = Server(base_url=base_url, host=host, port=port, log_path=log_path, process=proc, data_dir=Path(data_dir))

    timeout = float(os.environ.get("CONFIDE_E2E_START_TIMEOUT", "60"))
    deadline = time.monotonic() + timeout
    ready = False
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if requests.get(base_url + "/healthz", timeout=2).status_code == 200:
                ready = True
                break
        except requests.RequestException:
            pass
        time.sleep(0.2)
    if not ready:
        code = proc.poll()
        _stop(proc)
        log_file.close()
        why = f"exited with code {code}" if code is not None else f"did not answer GET /healthz 200 within {timeout:.0f} s"
        pytest.fail(
            f"server {why}\ncommand: {' '.join(cmd)}\n--- server log tail ({log_path}) ---\n{log_tail(log_path)}",
            pytrace=False,
        )

    try:
        yield srv
    finally:
        code, killed = _stop(proc)
        log_file.close()
    # A server that ignores SIGTERM or crashes while shutting down (e.g. a debug assertion
    # about unclosed database connections) is a bug: report it as a teardown error.
    if killed or code != 0:
        how = "ignored SIGTERM and was killed" if killed else f"exited with code {code} after SIGTERM"
        pytest.fail(f"server {how}\n--- server log tail ({log_path}) ---\n{log_tail(log_path)}", pytrace=False)


def _stop(proc: subprocess.Popen, grace: float = 15.0) -> tuple[int | None, bool]:
    """SIGTERM, wait, then SIGKILL. Returns (exit code, whether SIGKILL was needed)."""
    if proc.poll() is not None:
        return proc.returncode, False
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=grace), False
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return proc.returncode, True


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001
    """On any failure, show the end of the server's log."""
    if _server_log is None:
        return
    failed = terminalreporter.stats.get("failed", []) + terminalreporter.stats.get("error", [])
    if not failed:
        return
    terminalreporter.section(f"confide server log tail ({_server_log})")
    terminalreporter.write_line(log_tail(_server_log))


# --------------------------------------------------------------------------- browser


@pytest.fixture
def make_browser() -> Iterator[Callable[..., webdriver.Chrome]]:
    """Factory: make_browser((width, height)) -> a fresh headless Chromium (own profile).
    With media=True: a fake camera and microphone (granted without a prompt), WebRTC on loopback,
    autoplay with sound, and the browser console kept (driver.get_log("browser"))."""
    drivers: list[webdriver.Chrome] = []

    def make(size: tuple[int, int] = DESKTOP, media: bool = False) -> webdriver.Chrome:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in (
            "--headless=new",
            "--no-sandbox",
            f"--window-size={size[0]},{size[1]}",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
        ):
            options.add_argument(arg)
        if media:
            for arg in (
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                "--allow-loopback-in-peer-connection",
                "--autoplay-policy=no-user-gesture-required",
            ):
                options.add_argument(arg)
            options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        if size[0] < 500:
            # Desktop Chromium will not make a window narrower than 500 px: emulate the phone.
            options.add_experimental_option(
                "mobileEmulation",
                {"deviceMetrics": {"width": size[0], "height": size[1], "pixelRatio": 3.0, "touch": True}},
            )
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        driver.set_page_load_timeout(30)
        drivers.append(driver)
        return driver

    yield make
    for d in drivers:
        try:
            d.quit()
        except Exception:  # noqa: BLE001
            pass


@pytest.fixture
def browser(make_browser) -> webdriver.Chrome:
    return make_browser(DESKTOP)


# --------------------------------------------------------------------------- people / HTTP


@pytest.fixture
def person() -> Person:
    return Person.new()


@pytest.fixture
def client(server: Server) -> Client:
    return Client(server.base_url)
