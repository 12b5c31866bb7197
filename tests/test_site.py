"""The course website in a real browser: every page opens without console errors and without missing images.

Needs a built site (``make site`` or, as in CI, ``make site-smoke``) in ``$EXDA_SITE`` (default
site/_build/html); without one the test skips, unless ``EXDA_SITE_TEST=required`` (CI). The pages are
served on 127.0.0.1; Playwright drives Debian's Chromium with the launch flags of tests/test_browser.py.
Requests to other hosts (the MathJax and widget-manager CDNs; this machine is offline) are blocked and
listed, not counted as errors of the site. A full-page screenshot of every page goes to
``$EXDA_SCREENSHOTS`` (default: pytest's tmp dir) — look at them.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

from test_browser import CHROMIUM, CHROMIUM_FLAGS, missing_requirements

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(os.environ.get("EXDA_SITE", ROOT / "site" / "_build" / "html"))
REQUIRED = os.environ.get("EXDA_SITE_TEST") == "required"


def pages() -> list[str]:
    names = ["index.html", "scoreboard.html"]
    names += sorted(f"notebooks/{p.stem}.html" for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    return names


@pytest.fixture(scope="module")
def server():
    problem = missing_requirements() or (None if (SITE / "index.html").exists() else f"no site in {SITE} (make site)")
    if problem:
        if REQUIRED:
            pytest.fail(problem)
        pytest.skip(problem)
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_every_page_renders_without_console_errors_or_missing_images(server, tmp_path):
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("EXDA_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    host = urlparse(server).netloc
    blocked, problems = set(), []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def route(r):
                if urlparse(r.request.url).netloc == host or r.request.url.startswith("data:"):
                    r.continue_()
                else:
                    blocked.add(urlparse(r.request.url).netloc)
                    r.abort()

            page.route("**/*", route)
            current = {}
            page.on("pageerror", lambda error: problems.append(f"{current['page']}: page error {error}"))

            def console(message):
                source = message.location.get("url", "") if message.location else ""
                if message.type == "error" and (not source or urlparse(source).netloc == host):
                    if "net::ERR_FAILED" in message.text and not source:
                        return  # a blocked request to another host
                    problems.append(f"{current['page']}: console error {message.text}")

            page.on("console", console)
            page.on("requestfailed", lambda req: urlparse(req.url).netloc == host and problems.append(
                f"{current['page']}: failed request {req.url}"))
            for name in pages():
                current["page"] = name
                response = page.goto(f"{server}/{name}", wait_until="load")
                assert response is not None and response.ok, f"{name}: HTTP {response and response.status}"
                assert page.locator("article, main").first.inner_text().strip(), f"{name}: empty page"
                broken = page.evaluate("""() => [...document.images].filter(i => urlOnHost(i.src) &&
                    (!i.complete || i.naturalWidth === 0)).map(i => i.src)""".replace(
                    "urlOnHost(i.src)", f"(i.src.startsWith('data:') || i.src.includes('{host}'))"))
                problems += [f"{name}: missing image {src}" for src in broken]
                page.screenshot(path=str(shots / (name.replace("/", "_") + ".png")), full_page=True)
        finally:
            browser.close()
    print("blocked hosts (offline):", sorted(blocked))
    assert not problems, "\n".join(problems[:30])


def test_navigation_follows_course_order_and_pages_have_colab_and_download(server):
    index = (SITE / "index.html").read_text()
    positions = [index.find(f"notebooks/{p[len('notebooks/'):]}") for p in pages()[2:]]
    assert -1 not in positions and positions == sorted(positions)
    for name in pages()[2:]:
        html = (SITE / name).read_text()
        assert "colab.research.google.com" in html, name
        assert ".ipynb" in html and "download" in html.lower(), name
