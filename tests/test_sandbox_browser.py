"""The sandbox page in a real browser (issue #17): headless Chromium from Debian's packages,
driven by selenium, clicking through a request's whole life as a person would.

``scripts/test`` installs ``chromium`` and ``chromium-driver`` when they are missing; without
them these tests skip, except in CI, where they fail. They write the README's screenshots
to ``docs/screenshots/``.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.sandbox.seed import demo_seed
from bot.sandbox.web import serve
from bot.sandbox.world import World
from bot.standins.shared import in_ci

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
#: Without these Chromium stalls on a closed network (updates, sync, QUIC probes).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,860",
)

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import (  # noqa: E402
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def page() -> Iterator[tuple[str, World]]:
    world = World(demo_seed()).start()
    server = serve(world, 0)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", world
    finally:
        server.shutdown()
        server.server_close()
        world.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        message = "Chromium is not installed (apt-get install chromium chromium-driver)"
        if in_ci():
            pytest.fail(f"CI needs a browser: {message}")
        pytest.skip(message)
    profile = tempfile.mkdtemp(prefix="sandbox-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait(driver, condition, timeout: float = 10, what: str = ""):
    try:
        return WebDriverWait(
            driver,
            timeout,
            poll_frequency=0.1,
            ignored_exceptions=(StaleElementReferenceException,),
        ).until(condition)
    except TimeoutException:
        raise AssertionError(f"timed out waiting for {what}") from None


def be(driver, who: str) -> None:
    """Pick who is at the keyboard, and wait for the page to show their side."""
    Select(driver.find_element(By.ID, "who")).select_by_value(who)
    wait(driver, lambda d: f"as={who}" in d.current_url, what=f"the page as {who}")


def text(driver, css: str) -> str:
    return " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, css))


def member_roles(driver, email: str) -> str:
    return text(driver, f'#members tr[data-email="{email}"]')


def shoot(driver, name: str) -> None:
    """A screenshot for the README; no focus ring, caret or hover, so a re-run gives the
    same file."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.execute_script("document.activeElement && document.activeElement.blur()")
    ActionChains(driver).move_to_element(driver.find_element(By.CLASS_NAME, "brand")).perform()
    driver.save_screenshot(str(SCREENSHOTS / name))


def test_request_approve_grant_and_revoke_by_clicking_in_the_page(page, browser) -> None:
    url, world = page
    began = time.monotonic()
    browser.get(url + "?as=U0ALICE")
    wait(
        browser,
        lambda d: "alice@acme.example" in member_roles(d, "alice@acme.example"),
        what="Elastic's members",
    )

    # Alice opens the request form with the slash command (empty text: the form).
    browser.find_element(By.ID, "command").send_keys("\n")
    wait(browser, lambda d: d.find_element(By.ID, "modal").is_displayed(), what="the form")
    assert "Request access" in browser.find_element(By.ID, "modal-title").text

    # The resource type-ahead asks the bot; picking one narrows the roles (views.update).
    box = browser.find_element(By.CSS_SELECTOR, ".bk-typeahead-input")
    box.send_keys("prod")

    def pick_prod_search(d) -> bool:
        """Click the option in one go: the list is drawn again as answers come in, so an
        element found a moment earlier may be gone (stale) by the click; wait retries."""
        for li in d.find_elements(By.CSS_SELECTOR, ".bk-suggestions li"):
            if li.text == "Deployment prod-search":
                li.click()
                return True
        return False

    wait(browser, pick_prod_search, what="the type-ahead's options")
    wait(
        browser,
        lambda d: (
            "deployment-viewer"
            in [
                o.get_attribute("value")
                for o in d.find_elements(By.CSS_SELECTOR, 'select[data-action-id="role"] option')
            ]
            and "organization-admin"
            not in [
                o.get_attribute("value")
                for o in d.find_elements(By.CSS_SELECTOR, 'select[data-action-id="role"] option')
            ]
        ),
        what="the roles of prod-search",
    )
    Select(browser.find_element(By.CSS_SELECTOR, 'select[data-action-id="role"]')).select_by_value(
        "deployment-viewer"
    )
    Select(
        browser.find_element(By.CSS_SELECTOR, 'select[data-action-id="duration"]')
    ).select_by_value("2h")
    browser.find_element(By.CSS_SELECTOR, 'textarea[data-action-id="justification"]').send_keys(
        "INC-42 slow queries on prod"
    )
    shoot(browser, "sandbox-form.png")
    browser.find_element(By.ID, "modal-submit").click()
    wait(
        browser,
        lambda d: not d.find_element(By.ID, "modal").is_displayed(),
        what="the form to close",
    )
    wait(browser, lambda d: "Request #1 submitted" in text(d, "#tab-dms"), what="Alice's DM")

    # Olivia owns prod-search (its owner tag): her DM has the card with Approve.
    be(browser, "U0OLIVIA")
    wait(browser, lambda d: "needs your approval" in text(d, "#tab-dms"), what="Olivia's card")
    shoot(browser, "sandbox-approval.png")
    approve = browser.find_element(By.CSS_SELECTOR, '#tab-dms button[data-action-id="approve"]')
    approve.click()
    wait(browser, lambda d: "Approved by" in text(d, "#tab-dms"), what="the card updated")
    assert not browser.find_elements(By.CSS_SELECTOR, '#tab-dms button[data-action-id="approve"]')

    # Elastic Cloud's side shows the role, as the bot assigned it through the API.
    wait(
        browser,
        lambda d: "deployment-viewer on prod-search" in member_roles(d, "alice@acme.example"),
        what="the grant in Elastic",
    )
    alice = world.elastic.user_id_for("alice@acme.example")
    prod_search = world.resources["prod-search"][1]
    assert ("deployment", "deployment-viewer", prod_search) in world.elastic.holdings(alice)
    be(browser, "U0ALICE")
    wait(
        browser,
        lambda d: (
            "Request #1 granted" in text(d, "#tab-dms") or "Access granted" in text(d, "#tab-dms")
        ),
        what="Alice told",
    )
    shoot(browser, "sandbox-granted.png")

    # A day passes: the grant ends, the bot removes the role, everyone is told.
    browser.find_element(By.CSS_SELECTOR, 'button.time[data-by="1d"]').click()
    wait(
        browser,
        lambda d: "deployment-viewer on prod-search" not in member_roles(d, "alice@acme.example"),
        what="the revocation in Elastic",
    )
    assert "deployment-viewer on staging-logs" in member_roles(browser, "alice@acme.example")
    wait(browser, lambda d: "Access expired" in text(d, "#tab-dms"), what="Alice's expiry DM")
    shoot(browser, "sandbox-expired.png")
    browser.find_element(By.CSS_SELECTOR, '.tab[data-tab="channel"]').click()
    wait(browser, lambda d: "expired" in text(d, "#tab-channel"), what="the notify channel")
    assert time.monotonic() - began < 60


def test_a_fault_switch_shows_and_the_home_tab_opens(page, browser) -> None:
    url, world = page
    browser.get(url + "?as=U0OMAR")
    wait(browser, lambda d: "omar@acme.example" in text(d, "#members"), what="the page")
    switch = 'input[data-fault="elastic_503"]'
    browser.find_element(By.CSS_SELECTOR, switch).click()
    wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, switch).is_selected(), what="on")
    answer = httpx.get(
        f"{world.elastic.url}/api/v1/organizations",
        headers={"Authorization": f"ApiKey {world.api_key}"},
    )
    assert answer.status_code == 503  # Elastic Cloud, as the bot now finds it
    browser.find_element(By.CSS_SELECTOR, switch).click()
    wait(browser, lambda d: not d.find_element(By.CSS_SELECTOR, switch).is_selected(), what="off")
    browser.find_element(By.CSS_SELECTOR, '.tab[data-tab="home"]').click()
    wait(
        browser,
        lambda d: d.find_element(By.CSS_SELECTOR, "#tab-home [data-where=home]"),
        what="Omar's Home tab",
    )
