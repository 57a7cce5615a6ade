"""Browser tests of the clinic pages, in real headless Chromium against the demo server.

The main journey: a patient (Amelia) books; her GP (Sarah, signing in with TOTP) sees the booking
in her day list; Amelia checks in and appears in Sarah's waiting room without a reload (server-sent
events); Sarah starts, writes a draft, ends, signs and amends the notes; Amelia reads the signed
notes; during the consultation Sarah records a penicillin allergy, is warned when prescribing
amoxicillin (nothing is issued until she acknowledges it), prescribes and refers, and Amelia sees the
prescription and referral on the consultation and on "My records"; the practice admin (Tom) sees the appointment in the book without the patient's name or notes;
another patient of the same practice (Rohan) sees none of it.

Check-in opens 60 minutes before an appointment, and the demo GP works weekdays 09:00-12:00 and
14:00-17:00 (Europe/London). So that the journey runs at any hour on any day, Sarah first uses the
availability editor, as a clinician would, to add one-day exceptions for today and tomorrow
(00:00-23:50, 10-minute slots): the soonest slot is then at most ~15 minutes away and check-in is
open at once. The test removes those exceptions again at the end (also through the editor).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from helpers import DEMO_PASSWORD, Client, Person, demo_totp_uri, fresh_totp, hidden_value, location_path

WAIT = 15
LONDON = ZoneInfo("Europe/London")
AMELIA = "amelia.hart@demo.confide.test"
ROHAN = "rohan.mehta@demo.confide.test"
SARAH = "sarah.okafor@demo.confide.test"
TOM = "tom.baker@demo.confide.test"

CRASH_MARKERS = ("Traceback", "Stack trace", "stack trace", "Fatal error", ".swift:", "Internal Server Error", "internal-error")


# --------------------------------------------------------------------------- small browser helpers


def path_of(driver: WebDriver) -> str:
    return urlparse(driver.current_url).path


def text_of(driver: WebDriver) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def h1(driver: WebDriver) -> str:
    return driver.find_element(By.TAG_NAME, "h1").text.strip()


def wait_until(driver: WebDriver, what: str, condition, timeout: float = WAIT):
    try:
        return WebDriverWait(driver, timeout).until(lambda d: condition(d))
    except Exception as e:  # noqa: BLE001
        raise AssertionError(f"timed out waiting for {what} at {driver.current_url}\npage text:\n{text_of(driver)[:2500]}") from e


def wait_for_path(driver: WebDriver, pattern: str) -> None:
    wait_until(driver, f"a path matching {pattern}", lambda d: re.fullmatch(pattern, path_of(d)) is not None)


def assert_no_crash(driver: WebDriver) -> None:
    source = driver.page_source
    for marker in CRASH_MARKERS:
        assert marker not in source, f"page looks like a crash ({marker!r}):\n{source[:2000]}"


def alert_text(driver: WebDriver) -> str:
    alerts = wait_until(driver, "an error message", lambda d: d.find_elements(By.CSS_SELECTOR, '[role="alert"]'))
    return " ".join(a.text for a in alerts)


def notice_text(driver: WebDriver) -> str:
    notices = wait_until(driver, "a confirmation", lambda d: d.find_elements(By.CSS_SELECTOR, '[role="status"].notice'))
    return " ".join(n.text for n in notices)


def set_value(driver: WebDriver, el: WebElement, value: str) -> None:
    """Sets an input's value directly (date and time inputs depend on the browser's locale)."""
    driver.execute_script(
        "arguments[0].value = arguments[1];"
        "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));"
        "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
        el,
        value,
    )


def labelled(driver: WebDriver, ident: str) -> WebElement:
    labels = driver.find_elements(By.CSS_SELECTOR, f'label[for="{ident}"]')
    assert labels and labels[0].text.strip(), f'no visible <label for="{ident}"> on {driver.current_url}'
    return driver.find_element(By.ID, ident)


def click_button(scope, text: str) -> None:
    """Clicks the submit button reading `text` and waits for the next page to load."""
    buttons = [b for b in scope.find_elements(By.CSS_SELECTOR, 'button[type="submit"]') if b.text.strip() == text]
    assert buttons, f"no button {text!r}; found {[b.text for b in scope.find_elements(By.CSS_SELECTOR, 'button')]}"
    submit_and_wait(buttons[0])


def submit_and_wait(button: WebElement) -> None:
    """Clicks and waits until a new document has loaded (the old one is marked first)."""
    driver = button.parent
    marker = uuid.uuid4().hex
    driver.execute_script("document.documentElement.dataset.testPage = arguments[0]", marker)
    try:
        button.click()
    except WebDriverException as e:
        # Chromedriver sometimes reports the click's own navigation as an error; the wait below
        # still checks that the next page loaded.
        if "does not belong to the document" not in str(e):
            raise

    def loaded(d: WebDriver) -> bool:
        try:
            return d.execute_script(
                "return document.readyState === 'complete' && document.documentElement.dataset.testPage !== arguments[0]", marker
            )
        except WebDriverException:
            return False  # mid-navigation

    WebDriverWait(driver, WAIT).until(loaded)


def assert_forms_carry_csrf(driver: WebDriver) -> None:
    for form in driver.find_elements(By.CSS_SELECTOR, "form"):
        if (form.get_attribute("method") or "get").lower() != "post":
            continue
        token = form.find_elements(By.CSS_SELECTOR, 'input[type="hidden"][name="_csrf"]')
        assert token and token[0].get_attribute("value"), f"a POST form ({form.get_attribute('action')}) has no _csrf token"


def assert_inputs_labelled(driver: WebDriver) -> None:
    """Every visible input, select and textarea has exactly one <label for> with text."""
    for el in driver.find_elements(By.CSS_SELECTOR, "input, select, textarea"):
        if (el.get_attribute("type") or "").lower() == "hidden" or not el.is_displayed():
            continue
        ident = el.get_attribute("id")
        assert ident, f"an input named {el.get_attribute('name')!r} on {driver.current_url} has no id"
        labels = driver.find_elements(By.CSS_SELECTOR, f'label[for="{ident}"]')
        assert len(labels) == 1 and labels[0].text.strip(), f'#{ident} on {driver.current_url} has {len(labels)} labels'


def sign_in(driver: WebDriver, base_url: str, email: str, totp_uri: str | None = None) -> None:
    for attempt in range(2):
        driver.get(base_url + "/signin")
        labelled(driver, "email").send_keys(email)
        labelled(driver, "password").send_keys(DEMO_PASSWORD)
        if totp_uri:
            labelled(driver, "totp").send_keys(fresh_totp(totp_uri))
        click_button(driver, "Sign in")
        wait_until(driver, "the sign-in to finish", lambda d: path_of(d) != "/signin" or d.find_elements(By.CSS_SELECTOR, '[role="alert"]'))
        if path_of(driver) == "/account":
            return
        if attempt == 0 and totp_uri:
            continue  # a code at the edge of its 30-second step: try the next one
    raise AssertionError(f"could not sign in {email}: {text_of(driver)[:1000]}")


def sign_in_staff(driver: WebDriver, server, email: str) -> None:
    sign_in(driver, server.base_url, email, demo_totp_uri(server.log_text(), email))


# --------------------------------------------------------------------------- availability editor


def exception_rows(driver: WebDriver) -> list[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, "#x-rows fieldset.row")


def row_index(row: WebElement) -> str:
    return row.get_attribute("id")[1:]


def set_exception(driver: WebDriver, date: str, start: str, end: str, slot: str = "10") -> None:
    """Fills the exception row for `date` (or the first blank one) in the availability editor."""
    rows = exception_rows(driver)
    row = next((r for r in rows if r.find_element(By.CSS_SELECTOR, 'input[type="date"]').get_attribute("value") == date), None)
    if row is None:
        row = next((r for r in rows if not r.find_element(By.CSS_SELECTOR, 'input[type="date"]').get_attribute("value")), None)
    assert row is not None, "the availability editor offers no blank exception row"
    i = row_index(row)
    set_value(driver, labelled(driver, f"x{i}-date"), date)
    set_value(driver, labelled(driver, f"x{i}-start"), start)
    set_value(driver, labelled(driver, f"x{i}-end"), end)
    set_value(driver, labelled(driver, f"x{i}-slot"), slot)
    for modality, wanted in (("video", True), ("audio", True)):
        box = labelled(driver, f"x{i}-{modality}")
        if box.is_selected() != wanted:
            driver.execute_script("arguments[0].click()", box)


def remove_exceptions(driver: WebDriver, dates: set[str]) -> None:
    for row in exception_rows(driver):
        i = row_index(row)
        if row.find_element(By.ID, f"x{i}-date").get_attribute("value") in dates:
            boxes = row.find_elements(By.ID, f"x{i}-remove")
            if boxes and not boxes[0].is_selected():
                driver.execute_script("arguments[0].click()", boxes[0])


# --------------------------------------------------------------------------- the journey


def test_book_check_in_live_waiting_room_notes_and_isolation(server, make_browser):
    base = server.base_url
    sarah = make_browser()
    amelia = make_browser()

    # --- Sarah opens her hours for today and tomorrow (London), via the availability editor.
    sign_in_staff(sarah, server, SARAH)
    nav = [a.text for a in sarah.find_elements(By.CSS_SELECTOR, "header nav a")]
    assert {"Today", "Waiting room", "Availability"} <= set(nav), f"clinician navigation: {nav}"
    sarah.get(base + "/clinic/availability")
    assert h1(sarah) == "Availability"
    assert "Riverside Medical Centre" in text_of(sarah)
    assert_forms_carry_csrf(sarah)
    assert_inputs_labelled(sarah)
    # With JavaScript, "Add another exception" appends a row (without it, blank rows are always offered).
    before = len(exception_rows(sarah))
    add = sarah.find_element(By.CSS_SELECTOR, 'button[data-add-row="x"]')
    assert add.is_displayed(), "the availability script did not enable the add-row button"
    add.click()
    assert len(exception_rows(sarah)) == before + 1
    assert_inputs_labelled(sarah)
    today = datetime.now(LONDON).date()
    dates = {str(today), str(today + timedelta(days=1))}
    # A wrong row first: the message says which row and what is wrong.
    set_exception(sarah, str(today), "10:00", "09:00")
    click_button(sarah, "Save availability")
    message = alert_text(sarah)
    assert "Exception on" in message and "end must be after the start" in message, message
    assert_no_crash(sarah)
    try:
        for d in sorted(dates):
            set_exception(sarah, d, "00:00", "23:50")
        click_button(sarah, "Save availability")
        assert "Availability saved" in notice_text(sarah)
        saved = {r.find_element(By.CSS_SELECTOR, 'input[type="date"]').get_attribute("value") for r in exception_rows(sarah)}
        assert dates <= saved, f"saved exceptions {saved}"

        _journey(server, sarah, amelia, make_browser)
    finally:
        sarah.get(base + "/clinic/availability")
        remove_exceptions(sarah, dates)
        click_button(sarah, "Save availability")
        notice_text(sarah)


def _journey(server, sarah: WebDriver, amelia: WebDriver, make_browser) -> None:
    base = server.base_url

    # --- Amelia books the soonest video slot with a GP.
    sign_in(amelia, base, AMELIA)
    amelia.get(base + "/clinic/book")
    assert h1(amelia) == "Book an appointment"
    assert_forms_carry_csrf(amelia)
    assert_inputs_labelled(amelia)
    amelia.find_element(By.CSS_SELECTOR, '#role option[value="gp"]').click()
    amelia.find_element(By.CSS_SELECTOR, '#modality option[value="video"]').click()
    click_button(amelia, "Find appointments")
    first = wait_until(amelia, "slot results", lambda d: d.find_elements(By.CSS_SELECTOR, "#slots > li"))[0]
    assert "Sarah Okafor" in first.text, first.text
    click_button(first, "Book video")
    wait_for_path(amelia, r"/clinic/consultations/[0-9a-f-]{36}")
    assert "appointment is booked" in notice_text(amelia)
    consultation = path_of(amelia).rsplit("/", 1)[1]
    start_iso = amelia.find_element(By.CSS_SELECTOR, "dl time[datetime]").get_attribute("datetime")
    start = datetime.fromisoformat(start_iso.replace("Z", "+00:00"))
    assert start - datetime.now(start.tzinfo) < timedelta(minutes=60), f"the soonest slot {start_iso} is not within check-in"
    assert amelia.find_element(By.ID, "consultation-status").text == "Booked"

    # --- Sarah finds it in her day list (choosing the date in the form).
    sarah.get(base + "/clinic/day")
    set_value(sarah, labelled(sarah, "date"), str(start.astimezone(LONDON).date()))
    click_button(sarah, "Show")
    row = wait_until(sarah, "the booking in the day list", lambda d: d.find_elements(By.CSS_SELECTOR, f'#day-list li[data-consultation="{consultation}"]'))[0]
    assert "Amelia Hart" in row.text and "Booked" in row.text, row.text

    # --- Sarah watches the waiting room; Amelia checks in; the list updates without a reload.
    sarah.get(base + "/clinic/waiting-room")
    wait_until(sarah, "the live connection", lambda d: d.find_element(By.ID, "waiting-room").get_attribute("data-live") == "on")
    wait_until(sarah, "the live status", lambda d: "Live" in d.find_element(By.ID, "live-status").text)
    assert not sarah.find_elements(By.CSS_SELECTOR, f'#waiting-list li[data-consultation="{consultation}"]')
    sarah.execute_script("window.__sameDocument = 'yes'")

    amelia.get(base + "/clinic/consultations")
    card = amelia.find_element(By.CSS_SELECTOR, f'#upcoming li[data-consultation="{consultation}"]')
    click_button(card, "Check in")
    assert "You are checked in" in notice_text(amelia)

    item = wait_until(
        sarah, "Amelia in the waiting room", lambda d: d.find_elements(By.CSS_SELECTOR, f'#waiting-list li[data-consultation="{consultation}"]')
    )[0]
    assert "Amelia Hart" in item.text and "Waiting" in item.text, item.text
    assert sarah.execute_script("return window.__sameDocument") == "yes", "the waiting room reloaded instead of updating live"
    assert sarah.find_element(By.ID, "waiting-empty").get_attribute("hidden") is not None

    # --- Sarah runs the consultation and documents it.
    item.find_element(By.TAG_NAME, "a").click()
    wait_for_path(sarah, f"/clinic/consultations/{consultation}")
    assert "Amelia Hart" in text_of(sarah)
    click_button(sarah, "Start consultation")
    assert "has started" in notice_text(sarah)
    assert_inputs_labelled(sarah)
    assert_forms_carry_csrf(sarah)
    assert sarah.find_element(By.ID, "consultation-status").text == "In progress"
    issued = _allergy_prescription_and_referral(sarah)
    history = "Three days of sore throat, no fever. Drinking well."
    labelled(sarah, "history").send_keys(history)
    click_button(sarah, "Save draft")
    assert "Draft saved" in notice_text(sarah)
    assert "Draft (version 1)" in sarah.find_element(By.ID, "note-state").text
    # Signing while in progress is refused, readably, and nothing typed is lost.
    labelled(sarah, "examination").send_keys("Mild pharyngeal erythema.")
    click_button(sarah, "Sign notes")
    assert "end the consultation before signing" in alert_text(sarah).lower()
    assert labelled(sarah, "examination").get_attribute("value") == "Mild pharyngeal erythema."
    assert_no_crash(sarah)

    click_button(sarah, "End consultation")
    assert "has ended" in notice_text(sarah)
    assert labelled(sarah, "history").get_attribute("value") == history
    labelled(sarah, "examination").send_keys("Mild pharyngeal erythema.")
    labelled(sarah, "assessment").send_keys("Viral pharyngitis.")
    plan = "Rest, fluids, paracetamol. Call back if worse after a week."
    labelled(sarah, "plan").send_keys(plan)
    click_button(sarah, "Sign notes")
    assert "Notes signed" in notice_text(sarah)
    assert sarah.find_element(By.ID, "consultation-status").text == "Completed"
    versions = [li.get_attribute("data-version") for li in sarah.find_elements(By.CSS_SELECTOR, "#note-history > li")]
    assert versions == ["2", "1"], versions

    # After signing, a change needs a reason.
    plan_field = labelled(sarah, "plan")
    plan_field.clear()
    amended_plan = plan + " Safety-netting advice given."
    plan_field.send_keys(amended_plan)
    click_button(sarah, "Sign amendment")
    assert "amendment" in alert_text(sarah).lower()
    assert labelled(sarah, "amendment_reason").get_attribute("aria-invalid") == "true"
    labelled(sarah, "amendment_reason").send_keys("Added the safety-netting advice.")
    click_button(sarah, "Sign amendment")
    assert "Amendment signed" in notice_text(sarah)
    history_items = sarah.find_elements(By.CSS_SELECTOR, "#note-history > li")
    assert [li.get_attribute("data-version") for li in history_items] == ["3", "2", "1"]
    assert "Added the safety-netting advice." in history_items[0].text

    # --- Amelia reads the signed (amended) notes.
    amelia.get(base + f"/clinic/consultations/{consultation}")
    notes = amelia.find_element(By.ID, "notes")
    assert amended_plan in notes.text and history in notes.text, notes.text
    assert "Added the safety-netting advice." in notes.text
    assert amelia.find_element(By.ID, "consultation-status").text == "Completed"
    _patient_sees_what_was_issued(amelia, base, consultation, issued)
    amelia.get(base + "/clinic/consultations")
    assert amelia.find_elements(By.CSS_SELECTOR, f'#past li[data-consultation="{consultation}"]')
    # Times are rewritten into the viewer's zone by the ES module, the practice time kept in the title.
    localised = amelia.find_element(By.CSS_SELECTOR, f'#past li[data-consultation="{consultation}"] time')
    assert localised.get_attribute("data-localised") == "1" and localised.get_attribute("title").startswith("At the practice:")

    # --- The practice admin sees the appointment in the book: times and status, never the patient or notes.
    tom = make_browser()
    sign_in_staff(tom, server, TOM)
    assert "Practices" in [a.text for a in tom.find_elements(By.CSS_SELECTOR, "header nav a")]
    tom.get(base + "/clinic/practices")
    tom.find_element(By.LINK_TEXT, "Riverside Medical Centre").click()
    wait_for_path(tom, r"/clinic/practices/[0-9a-f-]{36}")
    assert "Sarah Okafor" in text_of(tom) and "Riverside GP team" in text_of(tom)
    assert_forms_carry_csrf(tom)
    tom.find_element(By.LINK_TEXT, "Appointment book").click()
    wait_for_path(tom, r"/clinic/practices/[0-9a-f-]{36}/appointments")
    set_value(tom, labelled(tom, "date"), str(start.astimezone(LONDON).date()))
    click_button(tom, "Show")
    row = tom.find_element(By.CSS_SELECTOR, f'#appointments tr[data-consultation="{consultation}"]')
    assert "Sarah Okafor" in row.text and "Completed" in row.text, row.text
    assert "Amelia" not in tom.page_source and "Hart" not in tom.page_source and history not in tom.page_source
    tom.get(base + f"/clinic/consultations/{consultation}")
    assert h1(tom) == "Consultation"
    assert "Amelia" not in tom.page_source and history not in tom.page_source and "Notes" not in text_of(tom)
    for secret in (issued["pharmacy"], issued["reason"], "Amoxicillin", "Penicillin"):
        assert secret not in tom.page_source, f"the practice admin sees {secret!r}"
    assert not tom.find_elements(By.CSS_SELECTOR, "#background, #prescriptions, #documents")
    tom.get(base + "/clinic/records")
    assert path_of(tom) != "/clinic/records" and issued["pharmacy"] not in tom.page_source
    click_button(tom.find_element(By.CSS_SELECTOR, "header nav"), "Sign out")

    # --- Rohan, a patient of the same practice, sees none of it (in the browser Tom signed out of).
    rohan = tom
    sign_in(rohan, base, ROHAN)
    rohan.get(base + "/clinic/consultations")
    assert h1(rohan) == "My consultations"
    assert not rohan.find_elements(By.CSS_SELECTOR, f'li[data-consultation="{consultation}"]')
    assert history not in rohan.page_source and "Amelia" not in rohan.page_source
    rohan.get(base + f"/clinic/consultations/{consultation}")
    assert h1(rohan) == "Page not found"
    denied = text_of(rohan)
    assert history not in rohan.page_source and "Amelia" not in rohan.page_source
    rohan.get(base + f"/clinic/consultations/{uuid.uuid4()}")
    assert text_of(rohan) == denied, "a denied consultation reads differently from a missing one"
    rohan.get(base + f"/clinic/consultations/{consultation}/reschedule")
    assert h1(rohan) == "Page not found"
    # Nor on his own records page, nor by posting to her consultation's forms.
    rohan.get(base + "/clinic/records")
    assert h1(rohan) == "My records"
    for secret in (issued["pharmacy"], issued["reason"], issued["recipient"], issued["prescription"]):
        assert secret not in rohan.page_source, f"Rohan's records show {secret!r}"
    for li in rohan.find_elements(By.CSS_SELECTOR, "#allergies li"):
        assert "Penicillin" not in li.text, li.text
    assert_no_crash(rohan)
    other = Client(base)
    assert other.sign_in(ROHAN, DEMO_PASSWORD).status_code == 303
    token = hidden_value(other.get("/clinic/records").text)
    posts = {
        "prescriptions": {"rx_medicine": "Ibuprofen", "rx_dose": "200 mg", "rx_route": "oral", "rx_frequency": "daily", "rx_quantity": "1",
                          "rx_pharmacy": "probe", "rx_acknowledge": "yes"},
        "documents": {"doc_kind": "letter", "doc_recipient": "probe", "doc_body": "probe"},
        "allergies": {"allergy_substance": "probe"},
        "medicines": {"medicine_name": "probe"},
    }
    for path, data in posts.items():
        r = other.post(f"/clinic/consultations/{consultation}/{path}", data={"_csrf": token, **data})
        assert r.status_code == 404, f"Rohan POST {path} -> {r.status_code}"
        assert issued["pharmacy"] not in r.text and "Amelia" not in r.text


def _allergy_prescription_and_referral(sarah: WebDriver) -> dict[str, str]:
    """Sarah records an allergy, is warned when prescribing a penicillin, overrides it, and refers."""
    tag = uuid.uuid4().hex[:8]
    issued = {
        "pharmacy": f"Riverside Pharmacy {tag}",
        "recipient": f"ENT clinic {tag}",
        "reason": f"Recurrent tonsillitis, six episodes this year ({tag}).",
    }
    assert sarah.find_element(By.ID, "background-h").text == "Allergies and current medicines"
    labelled(sarah, "allergy_substance").send_keys("Penicillin")
    labelled(sarah, "allergy_reaction").send_keys("Rash")
    click_button(sarah, "Record allergy")
    assert "Allergy recorded" in notice_text(sarah)
    assert "Penicillin" in sarah.find_element(By.ID, "allergies").text
    before = len(sarah.find_elements(By.CSS_SELECTOR, "#prescription-list > li"))

    def fill_prescription() -> None:
        labelled(sarah, "rx_medicine").send_keys("Amoxicillin")
        labelled(sarah, "rx_dose").send_keys("500 mg")
        sarah.find_element(By.CSS_SELECTOR, '#rx_route option[value="oral"]').click()
        labelled(sarah, "rx_frequency").send_keys("three times a day")
        labelled(sarah, "rx_quantity").send_keys("15")
        labelled(sarah, "rx_pharmacy").send_keys(issued["pharmacy"])

    # No acknowledgement box before any warning.
    assert not sarah.find_elements(By.ID, "rx_acknowledge")
    fill_prescription()
    click_button(sarah, "Prescribe")
    warning = sarah.find_element(By.ID, "allergy-warning")
    assert warning.get_attribute("role") == "alert" and warning.is_displayed()
    assert "Penicillin" in warning.text and "nothing was issued" in warning.text.lower(), warning.text
    assert_no_crash(sarah)
    assert_inputs_labelled(sarah)
    assert_forms_carry_csrf(sarah)
    # Nothing was issued, and everything typed is kept.
    assert len(sarah.find_elements(By.CSS_SELECTOR, "#prescription-list > li")) == before
    listed = sarah.find_elements(By.ID, "prescription-list")
    assert not listed or issued["pharmacy"] not in listed[0].text
    assert labelled(sarah, "rx_medicine").get_attribute("value") == "Amoxicillin"
    assert labelled(sarah, "rx_dose").get_attribute("value") == "500 mg"
    assert labelled(sarah, "rx_quantity").get_attribute("value") == "15"
    assert labelled(sarah, "rx_pharmacy").get_attribute("value") == issued["pharmacy"]
    assert sarah.find_element(By.CSS_SELECTOR, "#rx_route option:checked").get_attribute("value") == "oral"
    box = labelled(sarah, "rx_acknowledge")
    assert not box.is_selected()
    assert sarah.find_element(By.CSS_SELECTOR, 'label[for="rx_acknowledge"]').text == "I have checked the allergy; prescribe anyway"
    box.click()
    click_button(sarah, "Prescribe")
    assert "Prescription issued" in notice_text(sarah)
    items = sarah.find_elements(By.CSS_SELECTOR, "#prescription-list > li")
    assert len(items) == before + 1
    mine = [li for li in items if issued["pharmacy"] in li.text]
    assert len(mine) == 1 and "Amoxicillin" in mine[0].text and "500 mg" in mine[0].text, [li.text for li in items]
    assert "Penicillin" in mine[0].text, "the acknowledged override is not shown with the prescription"
    issued["prescription"] = mine[0].get_attribute("data-prescription")

    # A referral: a missing reason reads clearly (typed values kept), then it is issued.
    sarah.find_element(By.CSS_SELECTOR, '#doc_kind option[value="referral"]').click()
    labelled(sarah, "doc_recipient").send_keys(issued["recipient"])
    sarah.find_element(By.CSS_SELECTOR, '#doc_urgency option[value="urgent"]').click()
    click_button(sarah, "Issue document")
    assert alert_text(sarah)
    assert labelled(sarah, "doc_recipient").get_attribute("value") == issued["recipient"]
    assert labelled(sarah, "doc_body").get_attribute("aria-invalid") == "true"
    assert_no_crash(sarah)
    labelled(sarah, "doc_body").send_keys(issued["reason"])
    click_button(sarah, "Issue document")
    assert "Document issued" in notice_text(sarah)
    docs = [li for li in sarah.find_elements(By.CSS_SELECTOR, "#document-list > li") if issued["recipient"] in li.text]
    assert len(docs) == 1 and "Urgent" in docs[0].text and issued["reason"] in docs[0].text, [d.text for d in docs]
    return issued


def _patient_sees_what_was_issued(amelia: WebDriver, base: str, consultation: str, issued: dict[str, str]) -> None:
    amelia.get(base + f"/clinic/consultations/{consultation}")
    prescriptions = amelia.find_element(By.ID, "prescriptions").text
    assert "Amoxicillin" in prescriptions and "500 mg" in prescriptions and issued["pharmacy"] in prescriptions, prescriptions
    documents = amelia.find_element(By.ID, "documents").text
    assert issued["recipient"] in documents and issued["reason"] in documents and "Urgent" in documents, documents
    # Read-only: no forms to change them.
    assert not amelia.find_elements(By.CSS_SELECTOR, "#prescriptions form, #documents form, #rx_medicine, #doc_body")
    assert_no_crash(amelia)
    amelia.get(base + "/clinic/records")
    assert h1(amelia) == "My records"
    assert "My records" in [a.text for a in amelia.find_elements(By.CSS_SELECTOR, "header nav a")]
    assert "Penicillin" in amelia.find_element(By.ID, "allergies").text
    mine = amelia.find_elements(By.CSS_SELECTOR, f'#prescription-list li[data-prescription="{issued["prescription"]}"]')
    assert mine and "Amoxicillin" in mine[0].text, amelia.find_element(By.ID, "prescriptions").text
    assert mine[0].find_element(By.LINK_TEXT, "Consultation").get_attribute("href").endswith(f"/clinic/consultations/{consultation}")
    assert issued["reason"] in amelia.find_element(By.ID, "documents").text
    assert_no_crash(amelia)


# --------------------------------------------------------------------------- bad input reads clearly


def test_booking_a_taken_or_past_slot_reads_clearly(server, browser, person):
    base = server.base_url
    # Anonymous: every clinic page sends to sign-in.
    anonymous = Client(base)
    for page in ("/clinic/book", "/clinic/consultations", "/clinic/waiting-room"):
        r = anonymous.get(page)
        assert r.status_code == 303 and location_path(r) == "/signin", f"anonymous GET {page} -> {r.status_code}"

    # A new patient registers; booking first asks them to choose a practice.
    Client(base).register(person)
    sign_in_patient(browser, base, person)
    browser.get(base + "/clinic/book")
    wait_for_path(browser, "/clinic/practice")
    assert h1(browser) == "Choose your practice"
    assert "Choose your practice before booking" in notice_text(browser)
    riverside = next(
        i for i in browser.find_elements(By.CSS_SELECTOR, 'input[name="practice_id"]')
        if "Riverside" in browser.find_element(By.CSS_SELECTOR, f'label[for="{i.get_attribute("id")}"]').text
    )
    practice_id = riverside.get_attribute("value")
    browser.find_element(By.CSS_SELECTOR, f'label[for="{riverside.get_attribute("id")}"]').click()
    click_button(browser, "Register with this practice")
    wait_for_path(browser, "/clinic/book")
    assert "registered with your practice" in notice_text(browser)

    # A slot in the past (a hand-edited form) is refused with a readable message.
    def first_slot() -> WebElement:
        return wait_until(browser, "slot results", lambda d: d.find_elements(By.CSS_SELECTOR, "#slots > li"))[0]

    slot = first_slot()
    set_value(browser, slot.find_element(By.CSS_SELECTOR, 'input[name="start"]'), "2020-01-06T09:00:00Z")
    submit_and_wait(slot.find_elements(By.CSS_SELECTOR, 'button[type="submit"]')[0])
    message = alert_text(browser)
    assert "not offered" in message and "past" in message, message
    assert path_of(browser) == "/clinic/book"
    assert_no_crash(browser)

    # Garbage instead of a time reads clearly too.
    slot = first_slot()
    set_value(browser, slot.find_element(By.CSS_SELECTOR, 'input[name="start"]'), "next tuesday")
    submit_and_wait(slot.find_elements(By.CSS_SELECTOR, 'button[type="submit"]')[0])
    assert "could not be read" in alert_text(browser)
    assert_no_crash(browser)

    # Someone else books the slot this page still offers: the click then explains it is taken.
    slot = first_slot()
    clinician = slot.find_element(By.CSS_SELECTOR, 'input[name="clinician_id"]').get_attribute("value")
    start = slot.find_element(By.CSS_SELECTOR, 'input[name="start"]').get_attribute("value")
    button = slot.find_elements(By.CSS_SELECTOR, 'button[type="submit"]')[0]
    modality = button.get_attribute("value")
    other = Client(base)
    other_person = Person.new()
    assert other.register(other_person).status_code == 303
    token = hidden_value(other.get("/clinic/practice").text)
    r = other.post("/clinic/practice", data={"_csrf": token, "practice_id": practice_id})
    assert r.status_code == 303, f"choose practice over HTTP -> {r.status_code}"
    r = other.post("/clinic/book", data={"_csrf": token, "clinician_id": clinician, "start": start, "modality": modality})
    assert r.status_code == 303 and location_path(r).startswith("/clinic/consultations/"), f"book over HTTP -> {r.status_code}"
    # A form post without the anti-forgery token changes nothing.
    r = other.post("/clinic/book", data={"clinician_id": clinician, "start": start, "modality": modality})
    assert r.status_code == 403, f"book without _csrf -> {r.status_code}"

    submit_and_wait(button)
    message = alert_text(browser)
    assert "someone has just booked this slot" in message.lower(), message
    assert path_of(browser) == "/clinic/book"
    assert_no_crash(browser)
    # The list offered again no longer holds the taken slot.
    # (Pairwise: another clinician may well offer the same time.)
    offered = {
        (form.find_element(By.CSS_SELECTOR, 'input[name="clinician_id"]').get_attribute("value"),
         form.find_element(By.CSS_SELECTOR, 'input[name="start"]').get_attribute("value"))
        for form in browser.find_elements(By.CSS_SELECTOR, "#slots form")
        if form.find_elements(By.CSS_SELECTOR, 'input[name="start"]')
    }
    assert offered, "no slots offered again"
    assert (clinician, start) not in offered


def sign_in_patient(driver: WebDriver, base_url: str, p: Person) -> None:
    driver.get(base_url + "/signin")
    labelled(driver, "email").send_keys(p.email)
    labelled(driver, "password").send_keys(p.password)
    click_button(driver, "Sign in")
    wait_for_path(driver, "/account")
