"""A headless Chromium driven by Selenium, from Debian's `chromium` and `chromium-driver`.

scripts/test installs both when missing (scripts/system-packages). Both paths are given
to Selenium, so its manager never looks for a browser or a driver of its own (this
machine has no internet). Under CI=true a missing browser fails the test; elsewhere it
is a skip that says what to install.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.databases import cannot_run

PAGE_LOAD_SECONDS = 30
_ARGUMENTS = (
    "--headless=new",
    "--no-sandbox",  # the tests run as root, where Chromium's sandbox refuses to start
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-extensions",
    "--no-first-run",
    "--window-size=1400,1000",
)


def chromium_paths() -> tuple[str, str]:
    """(browser, driver) on PATH; else a skip, or under CI a failure."""
    found = {name: shutil.which(name) for name in ("chromium", "chromedriver")}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        message = f"no {' or '.join(missing)} on PATH (scripts/test installs Debian's chromium and chromium-driver)"
        cannot_run(f"browser tests: {message}")
    return found["chromium"], found["chromedriver"]


@contextlib.contextmanager
def headless_chromium(profile: Path) -> Iterator[webdriver.Chrome]:
    """A fresh headless Chromium with its own profile folder, quit on exit."""
    browser, driver = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in (*_ARGUMENTS, f"--user-data-dir={profile}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    try:
        chrome.set_page_load_timeout(PAGE_LOAD_SECONDS)
        chrome.set_script_timeout(PAGE_LOAD_SECONDS)
        yield chrome
    finally:
        chrome.quit()


def console_problems(chrome: webdriver.Chrome) -> list[str]:
    """What the page's console said since last asked that points at a bug of the page:
    an uncaught error, or something the Content-Security-Policy refused."""
    entries = chrome.get_log("browser")
    return [
        entry["message"]
        for entry in entries
        if "Uncaught" in entry["message"] or "Content Security Policy" in entry["message"]
    ]
