"""Open a page in headless Debian chromium as a reader would: console errors, broken images, a screenshot."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str:
    """Path of the system chromium; skip outside CI when it is missing (CI installs it in .ci/run)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run should have installed it")
        pytest.skip("chromium not installed (apt-get install chromium fonts-noto-cjk)")
    return path


def inspect_page(html: Path, screenshot: Path | None = None, *, width: int = 1280, height: int = 1600) -> dict:
    """Load ``html`` from disk with the network blocked; return console errors, failed requests and image facts."""
    from playwright.sync_api import sync_playwright

    errors, failed, external = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: failed.append(r.url))

        def block(route):
            external.append(route.request.url)
            route.abort()

        page.route("http*://**", block)
        page.goto(html.resolve().as_uri(), wait_until="load")
        images = page.evaluate("""() => Array.from(document.images).map(i => ({
            src: i.src.slice(0, 30), complete: i.complete, width: i.naturalWidth}))""")
        text = page.inner_text("body")
        if screenshot is not None:
            page.screenshot(path=str(screenshot), full_page=False)
        browser.close()
    return {"errors": errors, "failed_requests": failed, "external_requests": external, "images": images, "text": text}
