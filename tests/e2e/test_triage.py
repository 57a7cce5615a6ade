"""The symptom checker against the real server: the chat page in headless Chromium (a patient
describes their symptoms, answers, goes back, gets advice with the country's emergency number,
books with the check attached; the booked GP reads it on the consultation page), a red flag that
ends the chat at once, and the JSON API's bad input, each a clear problem+json that stores nothing
wrong, with other patients' sessions answering exactly like missing ones."""

from __future__ import annotations

import subprocess
import uuid

import requests
from selenium.webdriver.common.by import By

from helpers import PASSWORD
from test_browser_clinic import SARAH, assert_no_crash, click_button, labelled, path_of, sign_in_staff, wait_until
from test_cli import BIN, REPO
from test_http_clinic import Api, is_problem, new_patient, riverside

API = "/api/v1/triage/sessions"


def registered_patient(server) -> tuple[Api, dict]:
    api, profile = new_patient(server)
    assert api.call("PUT", "/api/v1/me/practice", {"practice_id": riverside(api)}).status_code == 204
    return api, profile


def patient_email(api: Api) -> str:
    return api.call("GET", "/api/v1/me").json()["email"]


def sign_in_patient(driver, server, api: Api) -> None:
    driver.get(server.base_url + "/signin")
    labelled(driver, "email").send_keys(patient_email(api))
    labelled(driver, "password").send_keys(PASSWORD)
    click_button(driver, "Sign in")
    wait_until(driver, "the sign-in to finish", lambda d: path_of(d) != "/signin")


def current_question(driver) -> str | None:
    """The id of the question on screen (read in the page: the chat redraws its elements)."""
    return driver.execute_script("const q = document.getElementById('triage-question'); return q ? q.dataset.finding : null;")


def has(driver, ident: str) -> bool:
    return bool(driver.execute_script("return !!document.getElementById(arguments[0]);", ident))


def press_start(driver) -> None:
    """The chat's Start button (the page does not navigate: triage.js talks to the API)."""
    driver.find_element(By.CSS_SELECTOR, '#triage-start button[type="submit"]').click()


def start(api: Api, complaint: str, sex: str = "female") -> requests.Response:
    return api.call("POST", API, {"complaint": complaint, "sex": sex})


def test_chat_in_the_browser_then_book_with_it_and_the_gp_reads_it(server, make_browser):
    patient, profile = registered_patient(server)
    driver = make_browser()
    sign_in_patient(driver, server, patient)
    driver.get(server.base_url + "/clinic/triage")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Check your symptoms"
    assert "not a diagnosis" in driver.find_element(By.ID, "triage-disclaimer").text
    # Nothing typed: a readable message, nothing stored.
    press_start(driver)
    wait_until(driver, "the empty-text message", lambda d: "Describe what is wrong" in d.find_element(By.ID, "triage-error").text)
    assert patient.call("GET", API).json()["sessions"] == []

    labelled(driver, "complaint").send_keys("I've had a sore throat and a high temperature since yesterday, no cough")
    driver.find_element(By.CSS_SELECTOR, 'input[name="sex"][value="female"]').click()
    press_start(driver)
    understood = wait_until(driver, "what the checker understood", lambda d: d.find_elements(By.ID, "triage-understood"))[0].text
    assert "sore throat" in understood.lower() and "no cough" in understood.lower(), understood
    # Answer one question, take it back: the same question is asked again.
    first_id = wait_until(driver, "a question", current_question)
    driver.find_element(By.ID, "answer-no").click()
    wait_until(driver, "the next question", lambda d: has(d, "triage-back") or has(d, "triage-advice"))
    if has(driver, "triage-back"):
        driver.find_element(By.ID, "triage-back").click()
        wait_until(driver, "the first question again", lambda d: current_question(d) == first_id and not has(d, "triage-back"))
    # Answer "don't know" until the advice comes (the engine stops by itself).
    for _ in range(40):
        if has(driver, "triage-advice"):
            break
        before = current_question(driver)
        driver.find_element(By.ID, "answer-dont_know").click()
        wait_until(driver, "the next step", lambda d, b=before: has(d, "triage-advice") or current_question(d) not in (None, b))
    advice = driver.find_element(By.ID, "triage-advice")
    assert advice.get_attribute("data-disposition") in ("self_care", "routine", "urgent", "emergency")
    assert "999" in driver.find_element(By.ID, "triage-safety-net").text
    assert driver.find_elements(By.CSS_SELECTOR, "#triage-conditions li"), "no conditions listed"
    assert "This is not a diagnosis" in advice.text
    assert_no_crash(driver)

    # Book with the check attached.
    driver.find_element(By.ID, "triage-book").click()
    wait_until(driver, "the booking page", lambda d: path_of(d) == "/clinic/book")
    assert driver.find_elements(By.ID, "triage-attached"), "the booking page does not say the check will be attached"
    with_sarah = [li for li in driver.find_elements(By.CSS_SELECTOR, "#slots li") if "Sarah Okafor" in li.text]
    assert with_sarah, "no slot with the demo GP in the next two weeks"
    with_sarah[0].find_element(By.CSS_SELECTOR, "form button").click()
    wait_until(driver, "the consultation page", lambda d: path_of(d).startswith("/clinic/consultations/"))
    cid = path_of(driver).rsplit("/", 1)[1]
    summary = driver.find_element(By.ID, "triage-summary").text
    assert "sore throat and a high temperature" in summary

    # The GP it is booked with reads it, with the conditions and why; another patient gets "not found".
    gp_driver = make_browser()
    sign_in_staff(gp_driver, server, SARAH)
    gp_driver.get(server.base_url + f"/clinic/consultations/{cid}")
    gp_summary = wait_until(gp_driver, "the triage summary", lambda d: d.find_elements(By.ID, "triage-summary"))[0].text
    assert "Conditions the checker considered (not a diagnosis)" in gp_summary
    assert "sore throat and a high temperature" in gp_summary
    sid = patient.call("GET", f"/api/v1/consultations/{cid}/triage").json()["id"]
    other, _ = registered_patient(server)
    is_problem(other.call("GET", f"{API}/{sid}"), 404, "not-found")
    is_problem(other.call("GET", f"/api/v1/consultations/{cid}/triage"), 404, "not-found")


def start_chat(server, make_browser, complaint: str, sex: str):
    """A new patient signs in, opens the chat and starts it with `complaint`; returns the browser."""
    patient, _ = registered_patient(server)
    driver = make_browser()
    sign_in_patient(driver, server, patient)
    driver.get(server.base_url + "/clinic/triage")
    labelled(driver, "complaint").send_keys(complaint)
    driver.find_element(By.CSS_SELECTOR, f'input[name="sex"][value="{sex}"]').click()
    press_start(driver)
    return driver


def test_a_red_flag_ends_the_chat_with_the_emergency_number(server, make_browser):
    driver = start_chat(server, make_browser, "Crushing chest pain for half an hour, I'm sweating and it's going down my left arm", "male")
    advice = wait_until(driver, "the advice", lambda d: d.find_elements(By.ID, "triage-advice"))[0]
    assert advice.get_attribute("data-disposition") == "emergency"
    assert "Call 999 now" in advice.find_element(By.TAG_NAME, "h2").text
    assert driver.find_elements(By.ID, "triage-red-flags")
    assert not driver.find_elements(By.ID, "triage-question"), "an emergency must not keep asking"


def test_crisis_line_stays_on_screen_during_the_questions(server, make_browser):
    driver = start_chat(server, make_browser, "I have been having suicidal thoughts and I can't sleep", "female")
    wait_until(driver, "the first question", lambda d: d.find_elements(By.ID, "triage-question"))
    banner = driver.find_element(By.ID, "triage-crisis-banner")
    assert "116 123" in banner.text and "999" in banner.text and banner.get_attribute("role") == "alert", banner.text
    # Still there after an answer, while the questions go on.
    first = driver.find_element(By.ID, "triage-question").get_attribute("data-finding")
    driver.find_element(By.ID, "answer-no").click()
    def moved_on(d) -> bool:
        # Read in one script: the chat re-renders, so an element found a moment earlier can be stale.
        finding, advice = d.execute_script(
            "const q = document.getElementById('triage-question');"
            "return [q ? q.dataset.finding : null, !!document.getElementById('triage-advice')];")
        return advice or (finding is not None and finding != first)

    wait_until(driver, "the next question or the advice", moved_on)
    if driver.find_elements(By.ID, "triage-question"):
        assert "116 123" in driver.find_element(By.ID, "triage-crisis-banner").text
    else:
        assert "116 123" in driver.find_element(By.ID, "triage-crisis").text


def test_patient_corrects_the_read_back_in_place(server, make_browser):
    """C18: a symptom read the wrong way round is put right on the page, and the checker goes on
    from the corrected reading (here it completes a red flag, so the advice is 999)."""
    driver = start_chat(server, make_browser, "I'm sweating a lot, I have a cough and no chest pain", "male")
    wait_until(driver, "the first question", lambda d: d.find_elements(By.ID, "triage-question"))
    assert "no chest pain" in driver.find_element(By.ID, "triage-understood").text
    driver.find_element(By.CSS_SELECTOR, "#triage-correct summary").click()
    # "I didn't say this" takes the cough out of the read-back; the chat re-renders.
    driver.find_element(By.ID, "correct-cough-not_mentioned").click()

    def read_back(d):
        # One script: the chat re-renders, so an element found a moment earlier can be stale.
        return d.execute_script("const u = document.getElementById('triage-understood'); return u ? u.textContent : '';")

    wait_until(driver, "the cough to leave the read-back", lambda d: "cough" not in read_back(d))
    driver.find_element(By.CSS_SELECTOR, "#triage-correct summary").click()
    driver.find_element(By.ID, "correct-chest_pain-present").click()
    advice = wait_until(driver, "the advice", lambda d: d.find_elements(By.ID, "triage-advice"))[0]
    assert advice.get_attribute("data-disposition") == "emergency"
    assert "Call 999 now" in advice.find_element(By.TAG_NAME, "h2").text
    assert "chest pain (corrected)" in read_back(driver)
    assert not driver.find_elements(By.ID, "triage-correct"), "a finished check takes no corrections"


def test_a_vague_opening_is_asked_to_describe_the_problem(server, make_browser):
    """C25: "I just don't feel right" names no problem, so the checker asks for it in the patient's
    own words before any yes/no question; what they write joins the read-back (here it completes a
    red flag, so the advice is 999), and the clinician sees it with the complaint."""
    driver = start_chat(server, make_browser, "I just don't feel right, can someone help", "male")
    wait_until(driver, "the request to describe", lambda d: d.find_elements(By.ID, "triage-describe-text"))
    assert driver.find_element(By.ID, "triage-question").get_attribute("data-kind") == "describe"
    assert not driver.find_elements(By.ID, "answer-yes"), "no yes/no question before the description"
    # An empty description is refused on the page, and nothing is sent.
    driver.find_element(By.ID, "triage-describe-send").click()
    error = wait_until(driver, "the message about an empty description",
                       lambda d: d.execute_script("const e = document.getElementById('triage-error'); return e && !e.hidden ? e.textContent : '';"))
    assert "few words" in error, error
    driver.find_element(By.ID, "triage-describe-text").send_keys("crushing pain in my chest and I'm sweating")
    driver.find_element(By.ID, "triage-describe-send").click()
    advice = wait_until(driver, "the advice", lambda d: d.find_elements(By.ID, "triage-advice"))[0]
    assert advice.get_attribute("data-disposition") == "emergency"
    assert "Call 999 now" in advice.find_element(By.TAG_NAME, "h2").text
    assert "crushing pain in my chest" in driver.find_element(By.ID, "triage-chat").text
    assert "chest pain" in driver.find_element(By.ID, "triage-understood").text.lower()
    assert_no_crash(driver)


def test_something_remembered_is_added_in_the_patients_words(server, make_browser):
    """C25: beside a yes/no question the patient can add something in their own words; it joins
    the read-back and the conversation, and the questions go on from it."""
    driver = start_chat(server, make_browser, "a cough and a sore throat for two days", "female")
    wait_until(driver, "the first question", lambda d: d.find_elements(By.ID, "answer-yes"))
    assert "rash" not in driver.find_element(By.ID, "triage-understood").text.lower()
    driver.find_element(By.CSS_SELECTOR, "#triage-add summary").click()
    driver.find_element(By.ID, "triage-add-text").send_keys("I have a rash on my arms as well")
    driver.find_element(By.ID, "triage-add-send").click()

    def understood(d) -> str:
        return d.execute_script("const u = document.getElementById('triage-understood'); return u ? u.textContent.toLowerCase() : '';")

    wait_until(driver, "the rash in the read-back", lambda d: "rash" in understood(d))
    assert "I have a rash on my arms as well" in driver.find_element(By.ID, "triage-chat").text
    assert_no_crash(driver)


def test_describe_api_bad_input_and_decline(server):
    alice, _ = registered_patient(server)
    bob, _ = registered_patient(server)
    s = start(alice, "need some advice please")
    assert s.status_code == 201, s.text
    session = s.json()
    sid, version = session["id"], session["version"]
    assert session["question"] == {"id": "describe", "kind": "describe", "text": session["question"]["text"]}, session["question"]
    assert session["details"] == []
    # Exactly one of text and skip; text 1-2000 characters; the current version; the owner only.
    is_problem(alice.call("POST", f"{API}/{sid}/details", {}), 422)
    is_problem(alice.call("POST", f"{API}/{sid}/details", {"text": "a cough", "skip": True}), 422)
    is_problem(alice.call("POST", f"{API}/{sid}/details", {"skip": False}), 422)
    is_problem(alice.call("POST", f"{API}/{sid}/details", {"text": "   "}), 422)
    is_problem(alice.call("POST", f"{API}/{sid}/details", {"text": "x" * 2001}), 422)
    is_problem(alice.call("POST", f"{API}/{sid}/details", {"text": "a cough", "extra": 1}), 422)
    is_problem(alice.call("POST", f"{API}/{sid}/details", {"text": "a cough", "version": version + 4}), 409, "conflict")
    is_problem(alice.call("POST", f"{API}/{sid}/answers", {"question": "describe", "answer": "yes"}), 422)
    is_problem(bob.call("POST", f"{API}/{sid}/details", {"text": "a cough"}), 404, "not-found")
    unchanged = alice.call("GET", f"{API}/{sid}").json()
    assert unchanged["version"] == version and unchanged["details"] == [] and unchanged["question"]["kind"] == "describe"
    # Declined: yes/no questions follow, and a second decline is refused.
    declined = alice.call("POST", f"{API}/{sid}/details", {"skip": True, "version": version})
    assert declined.status_code == 200, declined.text
    assert declined.json()["question"]["kind"] == "yes_no"
    is_problem(alice.call("POST", f"{API}/{sid}/details", {"skip": True}), 409, "not-asked")
    # A message at any later point adds what is new, and is kept for the clinician.
    added = alice.call("POST", f"{API}/{sid}/details", {"text": "I've had a sore throat since Monday"})
    assert added.status_code == 200, added.text
    body = added.json()
    assert body["details"] == ["I've had a sore throat since Monday"]
    assert any(u["finding"] == "sore_throat" and u["present"] for u in body["understood"]), body["understood"]


def test_api_bad_input_is_clear_and_stores_nothing_wrong(server):
    alice, _ = registered_patient(server)
    bob, _ = registered_patient(server)
    is_problem(start(alice, "   "), 422)
    is_problem(start(alice, "x" * 2001), 422)
    is_problem(start(alice, "headache", sex="other"), 422)
    is_problem(alice.call("POST", API, {"complaint": "headache", "sex": "male", "extra": 1}), 422)
    r = requests.post(server.url(API), data="complaint=headache", headers={**alice.headers, "Content-Type": "text/plain"}, timeout=30)
    is_problem(r, 415)
    assert alice.call("GET", API).json()["sessions"] == [], "refused starts stored something"

    s = start(alice, "cough and a fever for three days, no rash")
    assert s.status_code == 201, s.text
    session = s.json()
    assert session["status"] == "open" and session["country"] == "GB" and session["question"]
    sid, q, version = session["id"], session["question"]["id"], session["version"]
    is_problem(alice.call("POST", f"{API}/{sid}/answers", {"question": "no_such_finding", "answer": "yes"}), 422)
    other_q = "fever" if q != "fever" else "cough"
    is_problem(alice.call("POST", f"{API}/{sid}/answers", {"question": other_q, "answer": "yes"}), 409, "not-asked")
    is_problem(alice.call("POST", f"{API}/{sid}/answers", {"question": q, "answer": "maybe"}), 422)
    is_problem(alice.call("POST", f"{API}/{sid}/answers", {"question": q, "answer": "yes", "version": version + 7}), 409, "conflict")
    is_problem(alice.call("POST", f"{API}/{sid}/back", {}), 409)
    # Corrections: only items of the read-back, only known readings, only the current version.
    is_problem(alice.call("POST", f"{API}/{sid}/corrections", {"finding": "chest_pain", "reading": "present"}), 422)
    is_problem(alice.call("POST", f"{API}/{sid}/corrections", {"finding": "cough", "reading": "maybe"}), 422)
    is_problem(alice.call("POST", f"{API}/{sid}/corrections", {"finding": "cough", "reading": "absent", "extra": 1}), 422)
    is_problem(alice.call("POST", f"{API}/{sid}/corrections", {"finding": "cough", "reading": "absent", "version": version + 7}), 409, "conflict")
    is_problem(bob.call("POST", f"{API}/{sid}/corrections", {"finding": "cough", "reading": "absent"}), 404, "not-found")
    unchanged = alice.call("GET", f"{API}/{sid}").json()
    assert unchanged["answers"] == [] and unchanged["version"] == version
    assert all(not u["corrected"] for u in unchanged["understood"]), unchanged["understood"]
    # Someone else's session, a made-up one and a malformed id all read as "not found".
    for path in (f"{API}/{sid}", f"{API}/{uuid.uuid4()}", f"{API}/not-a-uuid", f"{API}/{sid.upper()}"):
        is_problem(bob.call("GET", path), 404, "not-found")
    is_problem(bob.call("POST", f"{API}/{sid}/answers", {"question": q, "answer": "yes"}), 404, "not-found")
    is_problem(bob.call("POST", f"{API}/{sid}/finish", {}), 404, "not-found")
    assert bob.call("GET", API).json()["sessions"] == []
    # Bob cannot book with Alice's check: 404, and nothing is booked.
    slots = bob.call("GET", "/api/v1/slots?role=gp&days=14&limit=1").json()["slots"]
    body = {"clinician_id": slots[0]["clinician_id"], "start": slots[0]["start"], "modality": slots[0]["modalities"][0], "triage_session_id": sid}
    is_problem(bob.call("POST", "/api/v1/consultations", body), 404, "not-found")
    assert bob.call("GET", "/api/v1/consultations").json()["consultations"] == []
    # An unfinished check cannot be booked with (409), and books nothing.
    is_problem(alice.call("POST", "/api/v1/consultations", body), 409, "conflict")
    finished = alice.call("POST", f"{API}/{sid}/finish", {"version": version})
    assert finished.status_code == 200 and finished.json()["status"] == "finished", finished.text
    assert "911" not in finished.json()["outcome"]["advice"]["safety_net"] and "999" in finished.json()["outcome"]["advice"]["safety_net"]
    booked = alice.call("POST", "/api/v1/consultations", body)
    assert booked.status_code == 201, booked.text
    assert alice.call("GET", f"/api/v1/consultations/{booked.json()['id']}/triage").json()["id"] == sid
    is_problem(alice.call("POST", f"{API}/{sid}/answers", {"question": q, "answer": "yes"}), 409)


def test_eval_command_prints_the_report_keys():
    out = subprocess.run(
        [BIN, "triage", "eval", "Sources/ConfideTriage/Resources/vignettes/heldback.json", "--json"],
        capture_output=True, text=True, timeout=300, cwd=REPO)
    assert out.returncode == 0, out.stderr
    import json

    report = json.loads(out.stdout)
    for key in ("cases", "top1", "top3", "top10", "triage_accuracy", "under_triage", "over_triage", "emergencies_missed",
                "mean_questions", "median_questions", "cases_detail"):
        assert key in report, key
    assert report["cases"] == 50 and len(report["cases_detail"]) == 50
    assert all(0 <= report[k] <= 1 for k in ("top1", "top3", "top10", "triage_accuracy", "under_triage", "over_triage"))
    bad = subprocess.run([BIN, "triage", "eval", "/nonexistent.json"], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "cannot read" in bad.stderr and "Traceback" not in bad.stderr


def test_held_back_splits_are_frozen():
    # H19: the held-back splits are the files as first committed (5391216, c0a8e5e, f1b57b7, 4e65564, 5d779a0, 1d1a4a0, 20aa69f and d777149), byte for byte.
    import hashlib

    frozen = {
        "heldback.json": "9f91eed3a1267e40b5b7c34ecd93fde648aa383d98afd3302d334218e0ebb90c",
        "heldback2.json": "ce1c194d3aa62817e29f066d6db304940991e6cf21246f2b05fb7219a5941a4d",
        "heldback3.json": "e1b57e8af1868ecfa944c0963fb75c8d765d39be55963287ac99d31dcdc63e73",
        "heldback4.json": "3753a63156b675eff5a6dcfe741bfff1cf7b473a1b7b1c993ba654661f306bc7",
        "heldback5.json": "a2cb01ffd088f8f0cfa752c013e868c2e23ef41ab50c2b73294dac18145fbd3a",
        "heldback6.json": "b915b4687f4fa0539b3eb0c37df27400d51c1079930c95f85abf8e9ae9babce3",
        "heldback7.json": "df8a33c3fcf717460d42ee00ab96dc9a3ac27a57a0c07b7a1f6fd2d5e998ad5a",
        "heldback8.json": "91af8a6d40e076e1614a6b7085e8c81268280e0155345fc7b219c62671702b2f",
    }
    for name, digest in frozen.items():
        data = (REPO / "Sources" / "ConfideTriage" / "Resources" / "vignettes" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, f"{name} changed after it was frozen"
