"""Helpers shared by the e2e tests: an HTTP client that keeps cookies by hand, form parsing."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from html.parser import HTMLParser
from http.cookiejar import DefaultCookiePolicy

import requests

PASSWORD = "correct-horse-battery-42"
DESKTOP = (1000, 800)
PHONE = (390, 844)


def _letters(n: int = 6) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    raw = uuid.uuid4().int
    out = []
    for _ in range(n):
        raw, i = divmod(raw, 26)
        out.append(alphabet[i])
    return "".join(out)


@dataclass
class Person:
    email: str
    password: str
    given_name: str
    family_name: str
    birth_date: str

    @staticmethod
    def new() -> "Person":
        """A new, unique person. Names deliberately hold non-ASCII and an apostrophe."""
        tag = uuid.uuid4().hex[:12]
        return Person(
            email=f"e2e-{tag}@example.com",
            password=PASSWORD,
            given_name="Zoë" + _letters(),
            family_name="O'Brien",
            birth_date="1990-04-12",
        )


# --------------------------------------------------------------------------- HTTP client


class _InputCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[dict[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "input":
            self.inputs.append(dict(attrs))


def hidden_value(html: str, name: str = "_csrf") -> str:
    p = _InputCollector()
    p.feed(html)
    for attrs in p.inputs:
        if attrs.get("name") == name:
            return attrs.get("value") or ""
    raise AssertionError(f"no <input name={name!r}> in page:\n{html[:2000]}")


class Client:
    """A small HTTP client over requests that keeps cookies by hand.

    requests' cookie jar never sends a `Secure` cookie over plain http, so a server that
    (rightly) marks its cookies Secure would look broken on http://127.0.0.1. This client
    keeps every cookie it is given, whatever its attributes, and remembers every raw
    Set-Cookie header it saw.
    """

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        self.http.cookies.set_policy(_NoCookies())
        self.cookies: dict[str, str] = {}
        self.set_cookie_headers: list[str] = []

    def request(self, method: str, path: str, **kw) -> requests.Response:
        headers = dict(kw.pop("headers", {}) or {})
        if method.upper() not in ("GET", "HEAD") and "Origin" not in headers:
            headers["Origin"] = self.base_url  # as a browser sends on a form POST
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        kw.setdefault("allow_redirects", False)
        kw.setdefault("timeout", 15)
        r = self.http.request(method, self.base_url + path, headers=headers, **kw)
        for raw in r.raw.headers.getlist("Set-Cookie"):
            self.set_cookie_headers.append(raw)
            name, _, rest = raw.partition("=")
            value = rest.split(";", 1)[0]
            attrs = raw.lower()
            if value == "" or "max-age=0" in attrs or "expires=thu, 01 jan 1970" in attrs:
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value
        return r

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return self.request("POST", path, **kw)

    def csrf(self, path: str) -> str:
        r = self.get(path)
        assert r.status_code == 200, f"GET {path} -> {r.status_code}"
        return hidden_value(r.text)

    def register(self, p: Person) -> requests.Response:
        token = self.csrf("/register")
        return self.post(
            "/register",
            data={
                "_csrf": token,
                "email": p.email,
                "password": p.password,
                "given_name": p.given_name,
                "family_name": p.family_name,
                "birth_date": p.birth_date,
            },
        )

    def sign_in(self, email: str, password: str) -> requests.Response:
        token = self.csrf("/signin")
        return self.post("/signin", data={"_csrf": token, "email": email, "password": password, "totp": ""})

    def sign_out(self) -> requests.Response:
        token = self.csrf("/account")
        return self.post("/signout", data={"_csrf": token})

    def set_cookie_for(self, name: str) -> str | None:
        for raw in reversed(self.set_cookie_headers):
            if raw.split("=", 1)[0].strip() == name:
                return raw
        return None


class _NoCookies(DefaultCookiePolicy):
    def set_ok(self, cookie, request):  # noqa: ARG002
        return False

    def return_ok(self, cookie, request):  # noqa: ARG002
        return False


def location_path(r: requests.Response) -> str:
    loc = r.headers.get("Location", "")
    return re.sub(r"^https?://[^/]+", "", loc).split("?", 1)[0]


# --------------------------------------------------------------------------- demo staff and TOTP

DEMO_PASSWORD = "confide-demo-2026"


def demo_totp_uri(server_log: str, email: str) -> str:
    """The otpauth URI the demo seeder printed for a staff email (in the server's start-up log)."""
    lines = server_log.splitlines()
    for i, line in enumerate(lines):
        if line.strip().endswith(email):
            for following in lines[i + 1 : i + 3]:
                m = re.search(r"TOTP:\s*(otpauth://\S+)", following)
                if m:
                    return m.group(1)
    raise AssertionError(f"no TOTP URI for {email} in the server log (was the demo seeded by this server?)")


def totp_at(uri: str, at: float) -> str:
    """RFC 6238 code (SHA-1, 6 digits, 30 s) of an otpauth URI at a Unix time."""
    import base64
    import hashlib
    import hmac
    import struct
    from urllib.parse import parse_qs, urlparse

    secret = parse_qs(urlparse(uri).query)["secret"][0]
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(at // 30)), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    return f"{(struct.unpack('>I', mac[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


_used_totp_steps: set[tuple[str, int]] = set()


def fresh_totp(uri: str) -> str:
    """A code for a time step this test run has not used yet for this secret (the server refuses
    a replayed code), waiting for the next step when needed."""
    import time

    while True:
        now = time.time()
        step = int(now // 30)
        if (uri, step) not in _used_totp_steps:
            _used_totp_steps.add((uri, step))
            return totp_at(uri, now)
        time.sleep(30 - now % 30 + 0.2)
