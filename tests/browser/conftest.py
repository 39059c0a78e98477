"""A real browser for page tests: Playwright driving Debian's Chromium.

The browser is required, not optional: without it the page tests fail with the
command that installs it (`.ci/run` does so on a fresh machine), so a missing browser
is never reported as a pass.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright


def _chromium() -> str:
    configured = os.environ.get("PRIVATELINE_TEST_CHROMIUM")
    found = configured or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail(
            "Chromium is not installed: `apt-get install chromium` (or run .ci/run), "
            "or point PRIVATELINE_TEST_CHROMIUM at a Chromium binary"
        )
    return found


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="en-GB")
    opened = context.new_page()
    yield opened
    context.close()
