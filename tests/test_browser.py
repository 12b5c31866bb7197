"""One real-browser test: JupyterLab in headless Chromium runs the GST explorer notebook and a slider works.

JupyterLab is started on 127.0.0.1 with a copy of ``05_global_spatial_tokens.ipynb`` (smoke mode, so
the notebook runs in seconds); Playwright drives Debian's Chromium (``/usr/bin/chromium``; no browser is
downloaded). The test runs every cell through the Run menu, waits for the degradation playground,
moves its strength slider with the keyboard and checks that the figure the widget shows changes.

Needs ``chromium`` (Debian package) and the ``playwright`` Python package; ``.ci/run`` installs both
and sets ``EXDA_BROWSER_TEST=required``, so on CI a missing browser fails instead of skipping.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "05_global_spatial_tokens.ipynb"
CHROMIUM = os.environ.get("EXDA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REQUIRED = os.environ.get("EXDA_BROWSER_TEST") == "required"
LAB_SETTINGS = {  # a fresh user-settings folder: no questions, every cell rendered (no virtual scrolling)
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none", "autoStartDefaultKernel": True},
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
}


def missing_requirements() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright; no browser download needed)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def jupyterlab(tmp_path):
    """A JupyterLab server on 127.0.0.1 serving a copy of the notebook; yields its base URL and token."""
    problem = missing_requirements()
    if problem:
        if REQUIRED:
            pytest.fail(problem)
        pytest.skip(problem)
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, tmp_path / NOTEBOOK)
    settings = tmp_path / "lab-settings"
    for plugin, values in LAB_SETTINGS.items():
        package, name = plugin.split(":")
        (settings / package).mkdir(parents=True, exist_ok=True)
        (settings / package / f"{name}.jupyterlab-settings").write_text(json.dumps(values))
    port, token = free_port(), "exda-browser-test"
    env = {**os.environ, "EXDA_SMOKE": "1", "PYTHONPATH": str(ROOT), "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip", "127.0.0.1", f"--port={port}",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}", "--allow-root",
               "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    log = open(tmp_path / "jupyterlab.log", "w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    pytest.fail("JupyterLab did not start:\n" + (tmp_path / "jupyterlab.log").read_text()[-3000:])
                time.sleep(0.5)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
        log.close()


def test_explorer_notebook_runs_in_jupyterlab_and_its_slider_changes_the_figure(jupyterlab, tmp_path):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout, expect, sync_playwright

    base, token = jupyterlab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}")
            page.locator(".jp-NotebookPanel").wait_for()
            select_kernel = page.locator(".jp-Dialog button", has_text="Select")
            try:  # JupyterLab may still ask which kernel to start
                select_kernel.wait_for(timeout=5_000)
                select_kernel.click()
            except PlaywrightTimeout:
                pass
            page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=120_000)

            page.locator(".lm-MenuBar-itemLabel", has_text="Run").click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

            # the degradation playground: exda_lite.course.explore.explorer(), controls above an image of the figure
            playground = page.locator(".exda-explorer").first
            slider = playground.locator(".widget-slider").first
            figure = playground.locator("img").first
            figure.wait_for(timeout=int(os.environ.get("EXDA_BROWSER_WAIT_S", "240")) * 1000)
            before = figure.get_attribute("src")
            readout = playground.locator(".widget-readout").first
            value_before = readout.inner_text()
            playground.screenshot(path=str(tmp_path / "before.png"))

            slider.locator(".noUi-handle").first.focus()
            page.keyboard.press("ArrowRight")  # one step of the slider: strength + 0.1
            expect(readout).not_to_have_text(value_before)
            page.wait_for_function(
                "([el, old]) => { const img = el.querySelector('img');"
                " return img !== null && img.src !== old; }",
                arg=[playground.element_handle(), before], timeout=60_000)
            playground.screenshot(path=str(tmp_path / "after.png"))
            after = figure.get_attribute("src")
            assert after != before
            # and no cell failed on the way
            assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] "
                                ":text('Traceback')").count() == 0
            errors = page.locator(".jp-OutputArea-output.jp-OutputArea-executeResult :text('Error')")
            assert errors.count() == 0
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)  # kept in pytest's tmp dir
            raise
        finally:
            browser.close()
