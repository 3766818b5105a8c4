"""The analyst pages in a real headless Chromium against gunicorn: sign in,
search, and the map with its clusters and points."""

import pytest
from analysts_helpers import ANALYSTS, NAME, PASSWORD
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

pytest_plugins = ["live", "analysts_fixtures"]
pytestmark = pytest.mark.browser


def wait(driver, condition, timeout=20):
    return WebDriverWait(driver, timeout).until(lambda _: condition())


def found(driver, selector):
    return driver.find_elements(By.CSS_SELECTOR, selector)


def sign_in(driver, url):
    driver.get(url + "/answers")
    assert "/login" in driver.current_url
    driver.find_element(By.ID, "name").send_keys(NAME)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "submit").click()
    wait(driver, lambda: found(driver, "#search-form"))


def test_analyst_signs_in_searches_and_sees_the_map(
    browser, screenshot, live_server, city_answers
):
    server = live_server(
        OPENSEARCH_INDEX=city_answers,
        SURVEY_ANALYSTS=ANALYSTS,
        SURVEY_MAP_MAX_POINTS=3,
    )
    sign_in(browser, server.url)

    browser.find_element(By.ID, "q").send_keys("lonely")
    browser.find_element(By.ID, "search-button").click()
    wait(browser, lambda: "q=lonely" in browser.current_url)
    ids = {item.get_attribute("data-id") for item in found(browser, "li.answer")}
    assert ids == {"lon-1", "lon-2", "lon-4", "mil-1", "lin-1", "nowhere-1"}
    assert found(browser, "#results mark")
    markup = browser.find_element(By.CSS_SELECTOR, 'li[data-id="lon-4"] .essay')
    assert "<script>alert('x')</script>" in markup.text
    assert not found(browser, "#results script, #results img")
    screenshot("analysts-search")

    browser.get(server.url + "/map?q=lonely")
    wait(browser, lambda: len(found(browser, "path.survey-cluster")) == 3)
    wait(browser, lambda: len(found(browser, "#map path")) > 3)
    counts = sorted(
        int(label.text) for label in found(browser, ".survey-cluster-count")
    )
    assert counts == [1, 1, 3]
    assert "IP geolocation by DB-IP" in browser.page_source
    click(browser, found(browser, "path.survey-cluster")[0])
    wait(browser, lambda: found(browser, "#map-answers .map-answer"))
    screenshot("analysts-map-clusters")

    browser.get(server.url + "/map?q=forest")
    wait(browser, lambda: len(found(browser, "path.survey-point")) == 1)
    assert not found(browser, "path.survey-cluster")
    click(browser, found(browser, "path.survey-point")[0])
    wait(browser, lambda: found(browser, "#map-answers .map-answer"))
    listed = browser.find_element(By.CSS_SELECTOR, "#map-answers .map-answer")
    assert "Lonely forest" in listed.text and "Milton" in listed.text
    screenshot("analysts-map-point")


def click(driver, element):
    """A click on an SVG shape, the way Leaflet hears it."""
    driver.execute_script(
        "arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}));",
        element,
    )
