"""``nmt-serve`` in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``) driven by Selenium types a sentence and reads the page.

Skipped when Chromium is not installed, unless ``NMT_REQUIRE_BROWSER=1`` (CI sets it,
after ``apt-get install chromium chromium-driver``), where a missing browser fails.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.test_serve import seq2seq, start_server  # noqa: F401 (the fixture)

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


def chromium() -> tuple[str, str] | None:
    """Paths of the Chromium binary and its driver, or None."""
    binary = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)
    driver = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None
    )
    return (binary, driver) if binary and driver else None


@pytest.fixture(scope="module")
def browser():
    found = chromium()
    if found is None:
        message = "no chromium/chromedriver (apt-get install chromium chromium-driver)"
        if os.environ.get("NMT_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(found[1]))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def page(env, trained: Path, seq2seq: Path):  # noqa: F811
    proc, url = start_server(env, trained, seq2seq)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_the_page_shows_each_translation_and_its_attention_map(browser, page, tmp_path):
    wait = WebDriverWait(browser, 60)
    browser.get(page)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".card")) == 2)
    box = browser.find_element(By.ID, "text")
    box.send_keys("a b c")
    browser.find_element(By.ID, "go").click()
    card = browser.find_element(By.CSS_SELECTOR, '[data-model="transformer"]')
    wait.until(lambda d: card.find_element(By.CSS_SELECTOR, ".translation").text == "a b c")
    assert "BLEU" in card.text and " ms" in card.text
    # the heat map: a row per target piece (+ </s>), a column per source piece (+ </s>)
    rows = card.find_elements(By.CSS_SELECTOR, "table.heatmap tbody tr")
    chips = card.find_elements(By.CSS_SELECTOR, ".src-piece")
    assert len(rows) >= 4 and chips[-1].text == "</s>"
    # pieces show as words: no SentencePiece "▁" in the chips or the map's labels
    labels = [th.text for th in card.find_elements(By.CSS_SELECTOR, "table.heatmap th")]
    assert not any("\u2581" in x for x in [c.text for c in chips] + labels)
    assert chips[0].get_attribute("title").startswith("\u2581")  # the piece itself on hover
    # the chips wrap inside the card instead of scrolling out of it
    row = card.find_element(By.CSS_SELECTOR, ".chips")
    fits = "return arguments[0].scrollWidth <= arguments[0].clientWidth"
    assert browser.execute_script(fits, row)
    beam = Select(browser.find_element(By.ID, "beam"))
    assert beam.options[0].text == "as trained"
    assert len(card.find_elements(By.CSS_SELECTOR, "td.cell")) == len(rows) * len(chips)
    # hovering a target piece highlights its source alignment
    ActionChains(browser).move_to_element(rows[0].find_element(By.CSS_SELECTOR, "th")).perform()
    wait.until(lambda d: "active" in rows[0].get_attribute("class"))
    weights = [float(c.get_attribute("data-w")) for c in chips]
    assert abs(sum(weights) - 1) < 0.02
    # the Transformer's head selector redraws the map from that head
    head = Select(card.find_element(By.CSS_SELECTOR, "select.head"))
    assert [o.text for o in head.options] == ["mean", "1", "2"]
    before = [c.get_attribute("data-w") for c in card.find_elements(By.CSS_SELECTOR, "td.cell")]
    head.select_by_visible_text("1")
    wait.until(ec.staleness_of(rows[0]))
    after = [c.get_attribute("data-w") for c in card.find_elements(By.CSS_SELECTOR, "td.cell")]
    assert len(after) == len(before) and after != before
    # seq2seq translates too, and says why it has no map
    plain = browser.find_element(By.CSS_SELECTOR, '[data-model="seq2seq"]')
    wait.until(lambda d: plain.find_element(By.CSS_SELECTOR, ".translation").text != "…")
    assert "No attention map" in plain.find_element(By.CSS_SELECTOR, ".none").text
    assert not plain.find_elements(By.CSS_SELECTOR, "table.heatmap")
    shot = tmp_path / "page.png"
    assert browser.save_screenshot(str(shot)) and shot.read_bytes()[:4] == b"\x89PNG"


def test_the_page_serves_a_ctranslate2_export(browser, env, exported: Path):
    """An ``nmt-export ct2`` folder on the page: CTranslate2 translates, and its one map
    (the last layer's heads averaged) is drawn."""
    proc, url = start_server(env, exported)
    try:
        wait = WebDriverWait(browser, 60)
        browser.get(url)
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".card")) == 1)
        browser.find_element(By.ID, "text").send_keys("a b c")
        browser.find_element(By.ID, "go").click()
        card = browser.find_element(By.CSS_SELECTOR, '[data-model="transformer"]')
        wait.until(lambda d: card.find_element(By.CSS_SELECTOR, ".translation").text == "a b c")
        rows = card.find_elements(By.CSS_SELECTOR, "table.heatmap tbody tr")
        chips = card.find_elements(By.CSS_SELECTOR, ".src-piece")
        cells = card.find_elements(By.CSS_SELECTOR, "td.cell")
        assert rows and len(cells) == len(rows) * len(chips)
        # one model's card takes the page's width, not a third of it
        width = browser.execute_script("return arguments[0].getBoundingClientRect().width", card)
        page_width = browser.execute_script(
            "return document.getElementById('cards').getBoundingClientRect().width"
        )
        assert width > 0.9 * page_width
    finally:
        proc.terminate()
        proc.wait(timeout=30)
