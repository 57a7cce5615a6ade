"""Browser tests: register, sign out, sign in, wrong password, labels and keyboard use."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from helpers import DESKTOP, PHONE, Client, Person

WAIT = 15

# Text that only a crash page, a stack trace or a debug dump would show.
CRASH_MARKERS = (
    "Traceback",
    "Stack trace",
    "stack trace",
    "Fatal error",
    ".swift:",
    "Thread 0",
    "Internal Server Error",
    "Swift runtime failure",
)


def path_of(driver: WebDriver) -> str:
    return urlparse(driver.current_url).path


def wait_for_path(driver: WebDriver, path: str) -> None:
    try:
        WebDriverWait(driver, WAIT).until(lambda d: path_of(d) == path)
    except Exception as e:  # noqa: BLE001
        raise AssertionError(
            f"expected to land on {path}, still at {driver.current_url}\n"
            f"page text:\n{body_text(driver)[:1500]}"
        ) from e


def body_text(driver: WebDriver) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def labelled_input(driver: WebDriver, ident: str) -> WebElement:
    """The input with this id, checking that a <label for=id> with visible text exists."""
    labels = driver.find_elements(By.CSS_SELECTOR, f'label[for="{ident}"]')
    assert labels, f'no <label for="{ident}"> on {driver.current_url}'
    assert labels[0].text.strip(), f'<label for="{ident}"> has no text'
    el = driver.find_element(By.ID, ident)
    assert el.get_attribute("name") == ident, f"#{ident} has name={el.get_attribute('name')!r}"
    return el


def submit_button(driver: WebDriver, form_action: str, text: str) -> WebElement:
    buttons = driver.find_elements(By.CSS_SELECTOR, f'form[action="{form_action}"] button[type="submit"]')
    assert buttons, f'no <button type="submit"> in a form with action="{form_action}" on {driver.current_url}'
    matching = [b for b in buttons if b.text.strip() == text]
    assert matching, f"no submit button reading {text!r}; found {[b.text for b in buttons]}"
    return matching[0]


def assert_form_posts(driver: WebDriver, action: str) -> WebElement:
    forms = driver.find_elements(By.CSS_SELECTOR, f'form[action="{action}"]')
    assert forms, f'no <form action="{action}"> on {driver.current_url}'
    form = forms[0]
    assert (form.get_attribute("method") or "").lower() == "post", f"form {action} is not method=post"
    csrf = form.find_elements(By.CSS_SELECTOR, 'input[type="hidden"][name="_csrf"]')
    assert csrf and csrf[0].get_attribute("value"), f"form {action} has no non-empty hidden _csrf input"
    return form


def assert_account_page(driver: WebDriver, p: Person) -> None:
    wait_for_path(driver, "/account")
    h1 = driver.find_element(By.TAG_NAME, "h1")
    assert h1.text.strip() == "My account"
    text = body_text(driver)
    assert p.given_name in text, f"given name {p.given_name!r} not shown on /account:\n{text[:1500]}"
    assert p.family_name in text, f"family name {p.family_name!r} not shown on /account:\n{text[:1500]}"
    assert p.email in text, f"email {p.email!r} not shown on /account:\n{text[:1500]}"
    assert_form_posts(driver, "/signout")


def register(driver: WebDriver, base_url: str, p: Person) -> None:
    driver.get(base_url + "/register")
    assert_form_posts(driver, "/register")
    email = labelled_input(driver, "email")
    assert email.get_attribute("type") == "email"
    password = labelled_input(driver, "password")
    assert password.get_attribute("type") == "password"
    birth = labelled_input(driver, "birth_date")
    assert birth.get_attribute("type") == "date"

    email.send_keys(p.email)
    password.send_keys(p.password)
    labelled_input(driver, "given_name").send_keys(p.given_name)
    labelled_input(driver, "family_name").send_keys(p.family_name)
    # Typing into a date input depends on the browser's locale: set the value directly.
    driver.execute_script(
        "arguments[0].value = arguments[1];"
        "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));"
        "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
        birth,
        p.birth_date,
    )
    assert birth.get_attribute("value") == p.birth_date
    submit_button(driver, "/register", "Create account").click()


def sign_in(driver: WebDriver, base_url: str, email: str, password: str) -> None:
    if path_of(driver) != "/signin":
        driver.get(base_url + "/signin")
    assert_form_posts(driver, "/signin")
    e = labelled_input(driver, "email")
    e.clear()
    e.send_keys(email)
    pw = labelled_input(driver, "password")
    pw.clear()
    pw.send_keys(password)
    submit_button(driver, "/signin", "Sign in").click()


def assert_fits_width(driver: WebDriver) -> None:
    """No horizontal scrolling: the page fits the viewport (matters on a phone)."""
    scroll, inner, wide = driver.execute_script(
        "const w = window.innerWidth;"
        "const wide = [...document.querySelectorAll('body *')]"
        "  .filter(e => e.getBoundingClientRect().right > w + 1)"
        "  .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')"
        "    + (e.className ? '.' + String(e.className).split(' ').join('.') : '')"
        "    + ' right=' + Math.round(e.getBoundingClientRect().right));"
        "return [document.documentElement.scrollWidth, w, wide];"
    )
    assert scroll <= inner, f"{path_of(driver)} is {scroll}px wide in a {inner}px viewport; too wide: {wide}"


def sign_out(driver: WebDriver) -> None:
    submit_button(driver, "/signout", "Sign out").click()
    wait_for_path(driver, "/signin")


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_register_sign_out_sign_in_and_wrong_password(server, make_browser, person, size):
    driver = make_browser(size)
    phone = size == PHONE

    if phone:
        for page in ("/register", "/signin"):
            driver.get(server.base_url + page)
            assert_fits_width(driver)

    register(driver, server.base_url, person)
    assert_account_page(driver, person)
    if phone:
        assert_fits_width(driver)

    sign_out(driver)
    # Signed out: the account page must no longer be reachable.
    driver.get(server.base_url + "/account")
    assert path_of(driver) != "/account" or "My account" not in body_text(driver), "still signed in after sign out"

    sign_in(driver, server.base_url, person.email, person.password)
    assert_account_page(driver, person)

    sign_out(driver)

    sign_in(driver, server.base_url, person.email, person.password + "-wrong")
    alerts = WebDriverWait(driver, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, '[role="alert"]'))
    alert_text = " ".join(a.text for a in alerts)
    assert "incorrect" in alert_text.lower(), f"alert text: {alert_text!r}"
    assert path_of(driver) == "/signin", f"wrong password landed on {driver.current_url}"
    source = driver.page_source
    for marker in CRASH_MARKERS:
        assert marker not in source, f"error page looks like a crash/stack trace ({marker!r}):\n{source[:2000]}"
    assert driver.find_elements(By.CSS_SELECTOR, 'form[action="/signin"]'), "the sign-in form is not offered again"
    assert not driver.find_elements(By.XPATH, '//h1[normalize-space()="My account"]')


@pytest.mark.parametrize("page", ["/signin", "/register"])
def test_every_input_has_a_label(server, browser, page):
    browser.get(server.base_url + page)
    inputs = browser.find_elements(By.CSS_SELECTOR, "input, select, textarea")
    visible = [i for i in inputs if (i.get_attribute("type") or "").lower() != "hidden"]
    assert visible, f"no visible inputs on {page}"
    for el in visible:
        ident = el.get_attribute("id")
        name = el.get_attribute("name")
        assert ident, f"input name={name!r} on {page} has no id, so no <label for> can point at it"
        labels = browser.find_elements(By.CSS_SELECTOR, f'label[for="{ident}"]')
        assert len(labels) == 1, f'expected exactly one <label for="{ident}"> on {page}, found {len(labels)}'
        assert labels[0].text.strip(), f'<label for="{ident}"> on {page} has no visible text'
        # The browser agrees the label belongs to the input: clicking it focuses the input.
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", labels[0])
        labels[0].click()
        assert browser.switch_to.active_element == el, f'clicking <label for="{ident}"> did not focus #{ident}'


def test_signin_works_with_keyboard_only(server, browser, person):
    """Click into email once, then only keys: type, Tab to password, Tab to the button, Enter."""
    r = Client(server.base_url).register(person)
    assert r.status_code == 303, f"register over HTTP -> {r.status_code}"

    browser.get(server.base_url + "/signin")
    email = labelled_input(browser, "email")
    email.click()
    assert browser.switch_to.active_element == email
    email.send_keys(person.email)
    browser.switch_to.active_element.send_keys(Keys.TAB)
    assert browser.switch_to.active_element.get_attribute("id") == "password", "Tab from email does not reach password"
    browser.switch_to.active_element.send_keys(person.password)

    # Keep tabbing (past the optional TOTP field): the "Sign in" button must be reachable.
    button = submit_button(browser, "/signin", "Sign in")
    for _ in range(6):
        browser.switch_to.active_element.send_keys(Keys.TAB)
        if browser.switch_to.active_element == button:
            break
    assert browser.switch_to.active_element == button, "the Sign in button is not reachable with Tab"
    button.send_keys(Keys.ENTER)
    assert_account_page(browser, person)
