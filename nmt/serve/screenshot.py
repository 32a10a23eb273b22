"""The README's picture of ``nmt-serve``: start it on some checkpoints, type a sentence
in headless Chromium, hover a target piece and save a screenshot.

    python scripts/serve_screenshot.py --text "a b c d" --out docs/serve.png RUN_DIR ...

Needs Debian's ``chromium`` and ``chromium-driver`` and Selenium (the dev extra); without
them it stops with a one-line error before starting anything. Selenium is imported inside
:func:`main`, so importing this module never needs it.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def browser_paths() -> tuple[str, str]:
    """Chromium and its driver on PATH; a one-line error (exit 2) when either is missing."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None
    )
    if binary is None or driver is None:
        print("error: needs chromium and chromedriver on PATH "
              "(apt-get install chromium chromium-driver)", file=sys.stderr)  # fmt: skip
        raise SystemExit(2)
    return binary, driver


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--text", required=True, help="the sentence to type")
    p.add_argument("--out", default="docs/serve.png")
    p.add_argument("--hover", type=int, default=2, help="target piece to hover (0-based)")
    p.add_argument("--size", default="1500,1100", help="window width,height")
    args = p.parse_args(argv)
    size = args.size.split(",")
    if len(size) != 2 or not all(x.isdigit() for x in size):
        p.error(f"--size {args.size}: give width,height in pixels, e.g. 1500,1100")
    binary, driver = browser_paths()
    try:
        from selenium import webdriver
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait
    except ImportError:
        print("error: needs Selenium (pip install -e '.[dev]')", file=sys.stderr)
        raise SystemExit(2) from None
    server = subprocess.Popen([str(BIN / "nmt-serve"), *args.checkpoints, "--port", "0"],
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        url = next(m[1] for line in server.stderr if (m := re.search(r"on (http://\S+/)", line)))
        options = webdriver.ChromeOptions()
        options.binary_location = binary
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                    f"--window-size={args.size}", "--hide-scrollbars"):  # fmt: skip
            options.add_argument(arg)
        service = webdriver.ChromeService(driver)
        browser = webdriver.Chrome(options=options, service=service)
        try:
            browser.get(url)
            wait = WebDriverWait(browser, 120)
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".card"))
            browser.find_element(By.ID, "text").send_keys(args.text)
            browser.find_element(By.ID, "go").click()
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".time"))
            rows = browser.find_elements(By.CSS_SELECTOR, "table.heatmap tbody tr th")
            if rows:
                ActionChains(browser).move_to_element(
                    rows[min(args.hover, len(rows) - 1)]
                ).perform()
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(args.out)
            print(f"screenshot -> {args.out}")
        finally:
            browser.quit()
    finally:
        server.terminate()
        server.wait(timeout=30)
