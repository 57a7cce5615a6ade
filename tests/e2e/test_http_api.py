"""HTTP tests of the machine-facing endpoints: health, OpenAPI, metrics, problem details."""

from __future__ import annotations

import json
import re
import time
import uuid

import requests
from openapi_spec_validator import OpenAPIV31SpecValidator, validate


def test_healthz(server):
    r = requests.get(server.url("/healthz"), timeout=10)
    assert r.status_code == 200


def test_startup_banner_names_the_address(server):
    want = f"Confide is running at http://{server.host}:{server.port}"
    deadline = time.monotonic() + 5  # the line may sit in a stdout buffer for a moment
    while time.monotonic() < deadline and want not in server.log_text():
        time.sleep(0.2)
    assert want in server.log_text(), f"server output lacks {want!r} (is stdout flushed?):\n{server.log_text()[-2000:]}"


def test_openapi_document_is_valid_3_1(server):
    r = requests.get(server.url("/openapi.json"), timeout=10)
    assert r.status_code == 200
    assert "json" in r.headers.get("Content-Type", ""), r.headers.get("Content-Type")
    spec = r.json()
    assert str(spec.get("openapi", "")).startswith("3.1"), f"openapi version {spec.get('openapi')!r}"
    validate(spec, cls=OpenAPIV31SpecValidator)
    assert spec.get("paths"), "the document lists no paths"


def test_metrics_use_route_templates_not_raw_paths(server):
    probe = uuid.uuid4().hex
    r = requests.get(server.url("/api/v1/me"), timeout=10)
    assert r.status_code == 401, f"GET /api/v1/me without auth -> {r.status_code}"
    requests.get(server.url(f"/api/v1/me?probe={probe}"), timeout=10)
    # Paths carrying IDs: whatever they answer, the ID must not become a label value.
    requests.get(server.url(f"/api/v1/accounts/{probe}"), timeout=10)
    requests.get(server.url(f"/no-such-route/{probe}"), timeout=10)

    text = ""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        m = requests.get(server.url("/metrics"), timeout=10)
        assert m.status_code == 200
        text = m.text
        if '"/api/v1/me"' in text:
            break
        time.sleep(0.2)
    ctype = m.headers.get("Content-Type", "")
    assert ctype.startswith("text/plain") or ctype.startswith("application/openmetrics-text"), ctype
    assert "# TYPE" in text, text[:1000]
    assert '"/api/v1/me"' in text, f"no metric labelled with route /api/v1/me:\n{text[:3000]}"
    assert probe not in text, "a raw path or query string (with an ID) leaked into /metrics"
    label_values = re.findall(r'="([^"]*)"', text)
    with_query = [v for v in label_values if "?" in v]
    assert not with_query, f"label values with query strings: {with_query[:5]}"


def test_malformed_json_is_a_problem_document(server):
    r = requests.post(
        server.url("/api/v1/accounts"),
        data=b'{"email": "x@example.com", "password": ',
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        timeout=10,
    )
    assert r.status_code == 400, f"-> {r.status_code}: {r.text[:500]}"
    assert r.headers.get("Content-Type", "").startswith("application/problem+json"), r.headers.get("Content-Type")
    body = json.loads(r.text)
    for key in ("type", "title", "status"):
        assert key in body, f"problem document lacks {key!r}: {body}"
    assert body["status"] == 400, body
    assert isinstance(body["title"], str) and body["title"], body
    assert ".swift" not in r.text and "DecodingError" not in r.text, f"internal details leaked: {r.text[:500]}"
