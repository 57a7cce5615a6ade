"""The breach report's admin page in real headless Chromium, against the shared demo server.

An operator (Priya, signing in with TOTP) opens the breach report from the navigation, runs it over a
window around now, and reads the verified summary; on the shared server, where every test's traffic
is legitimate, no access fails the independent check. A reversed window is a readable message, the
CSV download (same session) is the full report, and a GP gets the not-found page."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from selenium.webdriver.common.by import By

from test_browser_clinic import (
    SARAH, assert_forms_carry_csrf, assert_inputs_labelled, assert_no_crash, click_button, h1, labelled, path_of, sign_in_staff,
    text_of, wait_until,
)

PRIYA = "priya.nair@demo.confide.test"


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_operator_runs_the_breach_report_from_the_admin_pages(server, make_browser):
    priya = make_browser()
    sign_in_staff(priya, server, PRIYA)
    priya.get(server.base_url + "/clinic/incidents")
    links = [a for a in priya.find_elements(By.CSS_SELECTOR, "nav a") if a.text.strip() == "Breach report"]
    assert links, text_of(priya)[:500]
    links[0].click()
    wait_until(priya, "the report page", lambda d: path_of(d) == "/clinic/breach-report")
    assert h1(priya) == "Breach report"
    assert_inputs_labelled(priya)

    # A reversed window: a readable message, the form kept, no report.
    now = datetime.now(timezone.utc)
    labelled(priya, "r-from").send_keys(iso(now + timedelta(hours=1)))
    labelled(priya, "r-to").send_keys(iso(now - timedelta(hours=1)))
    click_button(priya, "Run the report")
    alert = priya.find_element(By.ID, "report-error").text
    assert "reversed" in alert and "from must be before to" in alert, alert
    assert not priya.find_elements(By.ID, "summary")
    assert_no_crash(priya)

    # The real run: the whole log verified, the summary, and no finding on a server of legitimate traffic.
    for ident, value in (("r-from", iso(now - timedelta(days=1))), ("r-to", iso(now + timedelta(minutes=5)))):
        field = labelled(priya, ident)
        field.clear()
        field.send_keys(value)
    click_button(priya, "Run the report")
    verified = priya.find_element(By.ID, "verified").text
    assert verified.startswith("Audit log verified:") and int(verified.split(":")[1].split()[0]) > 0, verified
    summary = priya.find_element(By.ID, "summary")
    assert summary.get_attribute("data-findings") == "0", text_of(priya)[:2000]
    assert priya.find_element(By.ID, "no-findings").is_displayed()
    assert "Nature" in summary.text and "Likely consequences" in summary.text and "Measures taken" in summary.text
    assert_forms_carry_csrf(priya)
    assert_no_crash(priya)

    # The downloads carry the whole report, in the same signed-in session.
    href = priya.find_element(By.ID, "download-csv").get_attribute("href")
    got = priya.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(async r => done([r.status, r.headers.get('content-type'), await r.text()]));", href)
    assert got[0] == 200 and got[1].startswith("text/csv"), got
    assert got[2].splitlines() == ["index,time,patient,recorded_patient,actor,action,resource_type,resource_id,exposure,detail,why"], got[2][:500]
    href = priya.find_element(By.ID, "download-json").get_attribute("href")
    got = priya.execute_async_script(
        "const done = arguments[arguments.length - 1]; fetch(arguments[0]).then(async r => done([r.status, await r.json()]));", href)
    assert got[0] == 200 and got[1]["findings"] == [] and got[1]["summary"]["findings"] == 0, got
    assert got[1]["log_entries_verified"] > 0

    # Anyone else: the page is simply not there.
    sarah = make_browser()
    sign_in_staff(sarah, server, SARAH)
    sarah.get(server.base_url + "/clinic/breach-report?from=2026-01-01&to=2027-01-01")
    assert "Page not found" in text_of(sarah), text_of(sarah)[:500]
    assert "Audit log verified" not in text_of(sarah)


def test_operator_uses_the_incidents_audit_and_notices_pages(server, make_browser):
    priya = make_browser()
    sign_in_staff(priya, server, PRIYA)
    # Incidents, with the playback kill switch on the same page: engage it, then release it.
    priya.get(server.base_url + "/clinic/incidents")
    assert h1(priya) == "Incidents"
    assert_inputs_labelled(priya)
    assert_forms_carry_csrf(priya)
    assert priya.find_element(By.ID, "playback-state").get_attribute("data-engaged") == "false"
    try:
        labelled(priya, "switch-reason").send_keys("browser drill")
        click_button(priya, "Suspend all playback")
        assert priya.find_element(By.ID, "playback-state").get_attribute("data-engaged") == "true", text_of(priya)[:1000]
        assert "browser drill" in priya.find_element(By.ID, "playback-state").text
    finally:
        priya.get(server.base_url + "/clinic/incidents")
        if priya.find_element(By.ID, "playback-state").get_attribute("data-engaged") == "true":
            labelled(priya, "switch-reason").send_keys("drill over")
            click_button(priya, "Allow playback again")
    assert priya.find_element(By.ID, "playback-state").get_attribute("data-engaged") == "false"
    assert_no_crash(priya)

    # The audit page: integrity, then a search for the kill-switch changes just made.
    priya.get(server.base_url + "/clinic/audit")
    assert h1(priya) == "Audit log"
    assert priya.find_element(By.ID, "verification").text
    assert_inputs_labelled(priya)
    labelled(priya, "a-type").send_keys("playback-switch")
    click_button(priya, "Search")
    rows = priya.find_elements(By.CSS_SELECTOR, "#audit-entries tbody tr")
    assert rows and all("playback-switch" in r.text for r in rows), text_of(priya)[:1500]
    assert any("update" in r.text for r in rows)
    # A reversed window is a readable message on the same page.
    priya.get(server.base_url + "/clinic/audit?from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z")
    assert "from must be before to" in priya.find_element(By.ID, "audit-error").text.lower()
    assert_no_crash(priya)

    # Notices: the page renders for operators (drafts come from the breach report).
    priya.get(server.base_url + "/clinic/notices")
    assert h1(priya) == "Breach notices", h1(priya)
    assert_no_crash(priya)
