"""The quiz in a real headless Chromium against the app under gunicorn."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from conftest import find_answers
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

pytest_plugins = ["live"]
pytestmark = pytest.mark.browser


def counter_text(driver):
    return driver.find_element(By.ID, "essay-counter").text


def fill_quiz(driver, essay, email):
    essay_box = driver.find_element(By.ID, "essay_question")
    essay_box.send_keys(essay)
    driver.find_element(By.ID, "email_addr").send_keys(email)
    return essay_box


def wait_for_thanks(driver):
    WebDriverWait(driver, 15).until(
        lambda driver: driver.current_url.endswith("/thanks")
    )


def console_errors(driver):
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def test_quiz_in_a_browser_stores_every_field(
    browser, screenshot, live_server, opensearch, settings
):
    server = live_server()
    started = datetime.now(UTC)
    browser.get(server.url + "/")
    assert counter_text(browser) == "0 / 2,048 characters"

    essay_box = browser.find_element(By.ID, "essay_question")
    essay_box.send_keys("Sega")
    assert counter_text(browser) == "4 / 2,048 characters"
    essay = "Sega does what Nintendon't 🎮"
    essay_box.send_keys(essay.removeprefix("Sega"))
    email = "Browser.Taker@Example.com"
    browser.find_element(By.ID, "email_addr").send_keys(email)
    assert counter_text(browser) == f"{len(essay)} / 2,048 characters"
    screenshot("quiz-filled")

    browser.find_element(By.ID, "submit").click()
    WebDriverWait(browser, 15).until(
        lambda driver: driver.current_url.endswith("/thanks")
    )
    assert "Thank you!" in browser.find_element(By.TAG_NAME, "h1").text
    assert console_errors(browser) == []

    (hit,) = find_answers(opensearch, settings, email_addr=email.lower())
    source = hit["_source"]
    assert source["essay_question"] == essay
    assert source["email_addr"] == email
    assert source["client_ip_addr"] == "127.0.0.1"
    assert source["is_spam"] is False
    assert source["spam_reasons"] == []
    assert source["tags"] == ["v1"]
    # A loopback address has no place: the web app marks it at once instead
    # of sending the worker a lookup that can only fail.
    assert source["geo_status"] == "unlocatable"
    stamped = datetime.fromisoformat(source["@timestamp"])
    assert stamped.utcoffset() == timedelta(0)
    assert started - timedelta(seconds=1) <= stamped <= datetime.now(UTC)


def test_form_sent_faster_than_a_person_types_is_stored_as_spam(
    browser, live_server, opensearch, settings
):
    server = live_server(SURVEY_MIN_FILL_SECONDS="3")
    browser.get(server.url + "/")
    email = f"bot-{uuid.uuid4().hex[:8]}@example.com"
    fill_quiz(browser, "Instant answer", email)
    browser.find_element(By.ID, "submit").click()

    # The sender is not told: a bot learns nothing from the answer.
    WebDriverWait(browser, 15).until(
        lambda driver: driver.current_url.endswith("/thanks")
    )
    (hit,) = find_answers(opensearch, settings, email_addr=email)
    assert hit["_source"]["is_spam"] is True
    assert hit["_source"]["spam_reasons"] == ["too_fast"]
    assert hit["_source"]["geo_status"] == "skipped"


def test_counter_blocks_an_essay_over_the_limit(browser, live_server):
    server = live_server(SURVEY_ESSAY_MAX_CHARS="10")
    browser.get(server.url + "/")
    fill_quiz(browser, "eleven char", "over@example.com")

    assert counter_text(browser) == "11 / 10 characters"
    counter = browser.find_element(By.ID, "essay-counter")
    assert "text-danger" in counter.get_attribute("class")
    browser.find_element(By.ID, "submit").click()
    assert not browser.current_url.endswith("/thanks")
    essay_box = browser.find_element(By.ID, "essay_question")
    assert (
        browser.execute_script("return arguments[0].validity.valid;", essay_box)
        is False
    )
