"""A second clinician in a video consultation, in three real headless Chromium browsers with fake
cameras and microphones, against the real server (docs/design/calls.md, "A second clinician").

The demo GP (Sarah Okafor) opens the call and the patient joins after confirming her address.
From the call page the GP invites the nurse James Whitfield (a clinician of the same practice);
the patient is asked in the call and agrees; the nurse opens the call page and joins as the
invited clinician (`guest`). Each page then has one peer connection per other participant (a
mesh of three) and media flows on all six directions (inbound-rtp bytes grow on every peer
connection of every page). The nurse's chat reaches both others. The patient removes the nurse:
the nurse's page says so and stops its camera and microphone, the GP sees the invitation
withdrawn, and the patient and GP call goes on. The GP invites the nurse again; the patient
reloads her page, finds the question waiting, and declines.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from test_browser_call import ADDRESS, SARAH, book_video_with_sarah, call_state, click, console_errors, wait_state
from test_browser_clinic import assert_no_crash, labelled, sign_in_patient, sign_in_staff, wait_until

JAMES = "james.whitfield@demo.confide.test"
# Three browsers encoding and decoding video on a small machine: keep the windows small.
SMALL = (640, 560)
FLOW_WAIT = 40

MESH_STATS_JS = """
const done = arguments[arguments.length - 1];
const call = window.confideCall;
if (!call || !call.pcs) { done(null); return; }
Promise.all(Object.entries(call.pcs).map(([role, pc]) => pc.getStats().then((report) => {
  const out = { audio: 0, video: 0, state: pc.connectionState };
  report.forEach((s) => { if (s.type === "inbound-rtp") out[s.kind] += s.bytesReceived || 0; });
  return [role, out];
}))).then((entries) => done({ pcs: Object.fromEntries(entries) }), (e) => done({ error: String(e) }));
"""


def mesh_stats(driver: WebDriver) -> dict[str, dict]:
    """Inbound bytes per peer connection, by the other participant's role."""
    driver.set_script_timeout(15)
    out = driver.execute_async_script(MESH_STATS_JS)
    assert out is not None, "window.confideCall.pcs does not exist"
    assert "error" not in out, out
    return out["pcs"]


def wait_mesh_flowing(pages: dict[str, tuple[WebDriver, list[str]]], timeout: float = FLOW_WAIT) -> None:
    """On every page, audio and video bytes grow on the peer connection with each listed role."""
    wanted = {"audio": 2000, "video": 10000}
    base: dict[tuple[str, str], dict] = {}
    pending: set[tuple[str, str, str]] = set()
    for who, (driver, roles) in pages.items():
        now = mesh_stats(driver)
        for role in roles:
            base[(who, role)] = now.get(role, {"audio": 0, "video": 0})
            pending |= {(who, role, kind) for kind in wanted}
    deadline = time.monotonic() + timeout
    last: dict[str, dict] = {}
    while pending and time.monotonic() < deadline:
        time.sleep(0.5)
        for who, (driver, _) in pages.items():
            if not any(p[0] == who for p in pending):
                continue
            last[who] = mesh_stats(driver)
            for w, role, kind in list(pending):
                if w != who or role not in last[who]:
                    continue
                if last[who][role][kind] - base[(who, role)][kind] >= wanted[kind]:
                    pending.discard((w, role, kind))
    assert not pending, f"media does not flow for (page, from, kind) {sorted(pending)}: before {base}, now {last}"


def shown(driver: WebDriver, ident: str):
    found = [e for e in driver.find_elements(By.ID, ident) if e.is_displayed()]
    return found[0] if found else None


def text(driver: WebDriver, ident: str) -> str:
    found = driver.find_elements(By.ID, ident)
    return found[0].text.strip() if found else ""


def test_second_clinician_joins_with_consent_and_is_removed(server, make_browser):
    base = server.base_url
    started = time.monotonic()

    def lap(what: str) -> None:
        print(f"[{time.monotonic() - started:5.1f} s] {what}")

    patient, api, cid = book_video_with_sarah(base)
    page = f"{base}/clinic/consultations/{cid}/call"

    # Three browsers start and sign in side by side (each staff sign-in may wait for a TOTP step).
    with ThreadPoolExecutor(3) as pool:
        sarah, pat, james = pool.map(lambda _: make_browser(SMALL, media=True), range(3))
        signed_in = [
            pool.submit(sign_in_staff, sarah, server, SARAH),
            pool.submit(sign_in_patient, pat, base, patient),
            pool.submit(sign_in_staff, james, server, JAMES),
        ]
        for f in signed_in:
            f.result()

    lap("signed in")
    # Before the invitation the nurse is refused like anyone unrelated (the call page is a 404).
    james.get(page)
    assert james.find_element(By.TAG_NAME, "h1").text.strip() == "Not found"
    assert not james.find_elements(By.ID, "call-page")
    console_errors(james)  # reading the log empties it: the expected 404 goes

    # The GP opens the call; the invite control lists her colleagues, not herself.
    sarah.get(page)
    assert_no_crash(sarah)
    wait_state(sarah, "the GP", "waiting")
    select = labelled(sarah, "invite-clinician")
    assert select.tag_name == "select"
    wait_until(sarah, "colleagues in the invite list", lambda d: any(
        "James Whitfield" in o.text for o in Select(d.find_element(By.ID, "invite-clinician")).options))
    names = [o.text for o in Select(select).options]
    assert not any("Sarah Okafor" in n for n in names), f"the GP is offered to invite herself: {names}"

    lap("GP waiting")
    # The patient confirms her address and joins.
    pat.get(page)
    assert_no_crash(pat)
    wait_until(pat, "the location form", lambda d: d.find_elements(By.ID, "location-address"))[0].send_keys(ADDRESS)
    click(pat, "location-confirm")
    assert not pat.find_elements(By.ID, "invite-clinician"), "the patient is offered to invite a clinician"
    wait_state(sarah, "the GP", "connected")
    wait_state(pat, "the patient", "connected")

    lap("patient and GP connected")
    # The GP invites the nurse from the call page; the patient is asked.
    option = next(o for o in Select(select).options if "James Whitfield" in o.text)
    Select(select).select_by_value(option.get_attribute("value"))
    click(sarah, "invite-send")
    wait_until(sarah, "the invitation to be pending",
               lambda d: "Waiting for the patient to agree" in text(d, "invite-status"))
    assert shown(sarah, "invite-withdraw"), "no way to withdraw a pending invitation"
    assert not sarah.find_element(By.ID, "invite-send").is_enabled(), "a second invitation can be sent while one is pending"
    prompt = wait_until(pat, "the invitation prompt", lambda d: shown(d, "invitation-prompt"))
    assert ("Your clinician would like James Whitfield to join this call. "
            "They will see and hear you, but not your records.") in prompt.text, prompt.text
    click(pat, "invitation-accept")
    wait_until(sarah, "the invitation to be accepted", lambda d: text(d, "invite-status").startswith("Accepted"))
    remove = wait_until(pat, "the button to remove the nurse", lambda d: shown(d, "invitation-withdraw"))
    assert remove.text.strip() == "Remove James Whitfield from the call", remove.text

    lap("consent given")
    # The nurse joins: no location step, no End consultation, three peer connections connect.
    james.get(page)
    assert_no_crash(james)
    wait_state(james, "the nurse", "connected")
    assert james.execute_script("return window.confideCall.role") == "guest"
    assert not james.find_elements(By.ID, "location-address"), "the invited clinician is asked for a location"
    assert not james.find_elements(By.ID, "end-consultation"), "the invited clinician is offered to end the consultation"
    assert not james.find_elements(By.ID, "invite-clinician"), "the invited clinician is offered to invite someone"
    lap("nurse connected")
    wait_mesh_flowing({
        "GP": (sarah, ["patient", "guest"]),
        "patient": (pat, ["clinician", "guest"]),
        "nurse": (james, ["clinician", "patient"]),
    })
    for d, ident in ((sarah, "remote-guest-mode"), (pat, "remote-guest-mode"), (james, "remote-mode"), (james, "remote-patient-mode")):
        wait_until(d, f"#{ident} to read Video", lambda d, i=ident: text(d, i) == "Video")
    assert text(sarah, "remote-mode") == "Video" and text(pat, "remote-mode") == "Video"

    lap("mesh flowing")
    # The nurse's chat reaches both others, labelled.
    said = "Nurse here " + uuid.uuid4().hex[:8]
    wait_until(james, "the chat to be enabled", lambda d: d.find_element(By.ID, "chat-input").is_enabled())
    labelled(james, "chat-input").send_keys(said)
    james.find_element(By.CSS_SELECTOR, '#chat-form button[type="submit"]').click()
    for who, d in (("GP", sarah), ("patient", pat)):
        wait_until(d, f"the nurse's message on the {who}'s page",
                   lambda d: said in d.find_element(By.ID, "chat-log").text and "Invited clinician" in d.find_element(By.ID, "chat-log").text)

    lap("chat")
    # The patient removes the nurse: the nurse is told and her media stops; the others go on.
    click(pat, "invitation-withdraw")
    wait_until(james, "the removal message",
               lambda d: "The patient or clinician removed you from this call." in text(d, "call-state"), 20)
    assert james.execute_script("return Object.keys(window.confideCall.pcs).length") == 0
    assert james.execute_script(
        "return document.getElementById('local-video').srcObject.getTracks().every(t => t.readyState === 'ended')"
    ), "the nurse's camera/microphone is still in use after she was removed"
    wait_until(sarah, "the invitation to be withdrawn", lambda d: text(d, "invite-status").startswith("Withdrawn"))
    assert sarah.find_element(By.ID, "invite-send").is_enabled(), "the GP cannot invite again after a withdrawal"
    for who, d in (("GP", sarah), ("patient", pat)):
        wait_until(d, f"the nurse's peer connection to close on the {who}'s page",
                   lambda d: "guest" not in d.execute_script("return Object.keys(window.confideCall.pcs)"))
        assert not shown(d, "remote-guest-video"), f"the nurse's tile is still shown to the {who}"
    wait_mesh_flowing({"GP": (sarah, ["patient"]), "patient": (pat, ["clinician"])}, timeout=20)
    assert call_state(sarah) == "connected" and call_state(pat) == "connected"

    lap("nurse removed, call goes on")
    # The GP invites the nurse again. The patient, reloading her page meanwhile, finds the
    # question waiting (the page reads the pending invitation) and says no this time.
    Select(select).select_by_value(option.get_attribute("value"))
    click(sarah, "invite-send")
    wait_until(sarah, "the second invitation to be pending",
               lambda d: "Waiting for the patient to agree" in text(d, "invite-status"))
    wait_until(pat, "the second invitation prompt", lambda d: shown(d, "invitation-accept"))
    pat.get(page)
    box = wait_until(pat, "the location form again", lambda d: d.find_elements(By.ID, "location-address"))[0]
    if not box.get_attribute("value"):
        box.send_keys(ADDRESS)
    click(pat, "location-confirm")
    prompt = wait_until(pat, "the pending invitation after a reload", lambda d: shown(d, "invitation-prompt"))
    assert "Your clinician would like James Whitfield to join this call." in prompt.text, prompt.text
    click(pat, "invitation-decline")
    wait_until(sarah, "the invitation to be declined", lambda d: text(d, "invite-status").startswith("Declined"))
    wait_until(pat, "the prompt to show the refusal", lambda d: not shown(d, "invitation-accept") and not shown(d, "invitation-withdraw"))
    wait_state(pat, "the patient", "connected")
    wait_state(sarah, "the GP", "connected")

    lap("declined after reload")
    statuses = [i["status"] for i in api.call("GET", f"/api/v1/consultations/{cid}/call/invitations").json()["invitations"]]
    assert sorted(statuses) == ["declined", "withdrawn"], statuses
    for who, d in (("GP", sarah), ("patient", pat), ("nurse", james)):
        errors = console_errors(d)
        assert not errors, f"console errors on the {who}'s page: {errors}"
    print(f"three-party call test took {time.monotonic() - started:.1f} s")
