"""The bundled report, built once per test session (the CLI path a user runs) and shared by the report tests."""

from __future__ import annotations

import shutil

import pytest

from sclcmeta.cli import main


@pytest.fixture(scope="session")
def report(tmp_path_factory, request):
    """The report folder. Under pytest-xdist the workers share one build (a file lock in the session's common
    temporary folder): the first worker writes it, the others wait and read it."""
    if getattr(request.config, "workerinput", None) is None:       # not an xdist worker
        out = tmp_path_factory.mktemp("rep") / "report"
        assert main(["report", "--out", str(out), "--no-progress"]) == 0
        return out
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp().parent
    out = root / "shared" / "report"
    with FileLock(str(root / "shared-report.lock")):
        if not (out / "report.html").is_file():
            out.parent.mkdir(exist_ok=True)
            assert main(["report", "--out", str(out), "--no-progress"]) == 0
    return out


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium with a 1400 x 900 CSS-pixel viewport."""
    if not (chromium() and shutil.which("chromedriver")):
        pytest.skip("Debian chromium/chromedriver absent")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1400, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    yield driver
    driver.quit()
