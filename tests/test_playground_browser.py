"""The playground in a real browser: JupyterLab served on 127.0.0.1 (a free
port, a random token), Debian's Chromium driven by Selenium through Debian's
chromium-driver, notebooks/09_playground.ipynb run there, a click on Play, and
a check that the epoch counter and the output heatmap change; then Pause, and
a screenshot of the playground.

Needs the ``chromium`` and ``chromium-driver`` packages (apt) and JupyterLab,
ipywidgets and Selenium (the test extras).  Without them the test is skipped
with the reason, except when ``NNEXT_BROWSER_TEST=1`` (the browser stage of
.ci/run), where a missing piece fails it.  Under the sanitizers
(``NNEXT_SANITIZED``) it is skipped: the ASan runtime preloaded there would be
inherited by the server and the browser.

The screenshot goes to the test's temporary folder, and also to the path in
``NNEXT_PLAYGROUND_SCREENSHOT`` when set (the README's image,
docs/images/playground.png, is made with it).
"""
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

from conftest import child_env

HERE = os.path.dirname(os.path.abspath(__file__))
NOTEBOOK = os.path.join(os.path.dirname(HERE), "notebooks", "09_playground.ipynb")
CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMEDRIVER = "/usr/bin/chromedriver"
FORCED = os.environ.get("NNEXT_BROWSER_TEST") == "1"

pytestmark = pytest.mark.notebooks


def _missing():
    why = []
    if not any(os.path.exists(p) for p in CHROMIUM):
        why.append("Chromium (apt-get install chromium)")
    if not os.path.exists(CHROMEDRIVER):
        why.append("chromedriver (apt-get install chromium-driver)")
    for module, package in (("selenium", "selenium"), ("jupyterlab", "jupyterlab"), ("ipywidgets", "ipywidgets")):
        if importlib.util.find_spec(module) is None:
            why.append(f"{package} (pip install -e '.[browser]')")
    return why


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server on 127.0.0.1 serving a copy of the notebook: yields its URL and token."""
    if os.environ.get("NNEXT_SANITIZED") and not FORCED:
        pytest.skip("not under the sanitizers (the preloaded ASan runtime would reach the server and the browser)")
    missing = _missing()
    if missing:
        message = "the browser test needs " + ", ".join(missing)
        if FORCED:
            pytest.fail(message + " (NNEXT_BROWSER_TEST=1: the browser stage must not skip)")
        pytest.skip(message)
    root = tmp_path / "lab"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / "09_playground.ipynb")
    port, token = _free_port(), uuid.uuid4().hex
    home = tmp_path / "home"
    env = child_env(HOME=str(home), JUPYTER_CONFIG_DIR=str(home / "config"),
                    JUPYTER_DATA_DIR=str(home / "data"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
                    JUPYTERLAB_SETTINGS_DIR=str(home / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(home / "ws"),
                    MPLBACKEND="module://matplotlib_inline.backend_inline",
                    PATH=os.pathsep.join(p for p in (os.path.dirname(sys.executable), os.environ.get("PATH")) if p))
    # JupyterLab's news toast would cover the page: switched off in this server's own settings
    settings = home / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    log = open(tmp_path / "jupyterlab.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", "--ServerApp.port_retries=0",
         f"--ServerApp.root_dir={root}"],
        cwd=str(root), env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail("JupyterLab did not start:\n" + (tmp_path / "jupyterlab.log").read_text()[-3000:])
            time.sleep(0.3)
        yield url, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = next(p for p in CHROMIUM if os.path.exists(p))
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1500,1300", "--force-device-scale-factor=1", "--hide-scrollbars",
                f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(what, condition, timeout):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except Exception:  # the page is still building (stale or missing elements)
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def test_playground_in_jupyterlab(jupyterlab, browser, tmp_path):
    from selenium.webdriver.common.by import By

    url, token = jupyterlab
    browser.get(f"{url}/lab/tree/09_playground.ipynb?token={token}")
    _wait("the notebook's kernel to be idle", lambda: browser.find_elements(
        By.CSS_SELECTOR, ".jp-Notebook") and "Idle" in browser.find_element(
            By.CSS_SELECTOR, ".jp-StatusBar-Widget, #jp-main-statusbar").text, 120)

    def click_menu(top, item):
        _wait(f"the {top} menu", lambda: [e for e in browser.find_elements(
            By.CSS_SELECTOR, ".lm-MenuBar-itemLabel") if e.text == top][0].click() or True, 30)
        _wait(f"{item} in the {top} menu", lambda: [e for e in browser.find_elements(
            By.CSS_SELECTOR, ".lm-Menu-itemLabel") if e.text == item][0].click() or True, 30)

    click_menu("Run", "Run All Cells")

    def prompts():
        return [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".jp-CodeCell .jp-InputPrompt")]

    _wait("every cell to have run", lambda: prompts() and all(p.strip() not in ("[ ]:", "[*]:", "")
                                                            for p in prompts()), 180)
    errors = browser.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert not [e.text for e in errors if "Traceback" in e.text or "Error" in e.text]

    playground = _wait("the playground's widgets", lambda: browser.find_element(By.CSS_SELECTOR, ".nnext-playground"), 60)
    browser.execute_script("arguments[0].scrollIntoView(true);", playground)

    def epoch():   # read in one script: the label's HTML is replaced at every frame
        return int(browser.execute_script("return document.querySelector("
                                          "'.nnext-playground .nnext-epoch-value').textContent").replace(",", ""))

    def heatmap():
        return browser.find_element(By.CSS_SELECTOR, ".nnext-playground img.nnext-output").screenshot_as_png

    start = _wait("the epoch counter (1,000 after the notebook's own steps)", lambda: epoch() == 1000 and epoch(), 60)
    before = heatmap()
    play = playground.find_element(By.XPATH, ".//button[contains(., 'Play')]")
    play.click()
    moving = _wait("the epoch counter to move", lambda: epoch() > start + 200 and epoch(), 60)
    _wait("the epoch counter to move again", lambda: epoch() > moving, 30)
    _wait("the heatmap to change", lambda: heatmap() != before, 30)
    # frames as the browser sees them: changes of the epoch counter over 3 s (printed, not asserted)
    seen, started = [epoch()], time.monotonic()
    while time.monotonic() - started < 3.0:
        value = epoch()
        if value != seen[-1]:
            seen.append(value)
        time.sleep(0.01)
    took = time.monotonic() - started
    print(f"\nin the browser: {len(seen) - 1} frames in {took:.1f} s ({(len(seen) - 1) / took:.1f} frames/s), "
          f"{(seen[-1] - seen[0]) / took:,.0f} epochs/s")
    playground.find_element(By.XPATH, ".//button[contains(., 'Pause')]").click()
    _wait("the Play button back", lambda: playground.find_element(By.XPATH, ".//button[contains(., 'Play')]"), 30)
    stopped = epoch()
    time.sleep(1.0)
    assert epoch() == stopped, "the epoch counter still moves after Pause"
    browser.execute_script("arguments[0].scrollIntoView(true);", playground)
    time.sleep(0.5)
    shot = playground.screenshot_as_png
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    (tmp_path / "playground.png").write_bytes(shot)
    target = os.environ.get("NNEXT_PLAYGROUND_SCREENSHOT")
    if target:
        with open(target, "wb") as f:
            f.write(shot)
