"""What a visitor sees, in a real headless Chromium against Encore run as `make run` runs it:
the rebuild page (one click, a busy button, a result, a way on), spacing, and a phone's width;
and the grader's feedback page and class report at a phone's width.

Needs Debian's chromium and requirements-browser.txt; without them these tests are skipped,
except in CI, where .ci/run installs both."""

from __future__ import annotations

import os

import pytest

from scripts import screenshots


@pytest.fixture(scope="module")
def browser():
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "Playwright is not installed (requirements-browser.txt)"
    if not missing and not os.path.isfile(screenshots.CHROMIUM):
        missing = f"no Chromium at {screenshots.CHROMIUM} (apt-get install chromium)"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the browser tests: {missing}")
        pytest.skip(missing)
    with sync_playwright() as pw:
        chromium = screenshots.launch(pw)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Stage 03 under `python -m grader run`, with demo data: its web port."""
    folder = tmp_path_factory.mktemp("browser")
    project = screenshots.prepare_stage(3, folder)
    process, web, _ = screenshots.start_stack(project, folder / "stack.log")
    yield f"http://127.0.0.1:{web}"
    screenshots.stop_stack(process)


def test_rebuild_page_takes_one_click_shows_busy_and_ends_with_the_result(browser, site):
    page = browser.new_page(viewport=screenshots.DESKTOP)
    page.goto(f"{site}/search/rebuild/", wait_until="networkidle")
    starts = []
    page.on("request", lambda r: r.method == "POST" and starts.append(r.url))
    button = page.locator("#rebuild-form button")
    button.dblclick()
    assert button.is_disabled(), "the button stays enabled while a rebuild runs"
    page.wait_for_function("() => document.querySelector('#rebuild-status')"
                           ".innerText.startsWith('Done')", timeout=60_000)
    assert len(starts) == 1, f"a double click started {len(starts)} rebuilds"
    status = page.locator("#rebuild-status").inner_text()
    assert "entries" in status or "entry" in status
    assert "PENDING" not in status and "SUCCESS" not in status, status
    assert page.locator("#rebuild-status a").get_attribute("href") == "/search/"
    assert button.is_enabled()
    page.close()


@pytest.mark.parametrize("path", ["/", "/search/rebuild/", "/feedback/", "/artists/"])
def test_headings_do_not_touch_the_header_and_phones_do_not_scroll_sideways(browser, site, path):
    for viewport in (screenshots.DESKTOP, screenshots.PHONE):
        page = browser.new_page(viewport=viewport)
        page.goto(f"{site}{path}", wait_until="networkidle")
        gap = page.evaluate("() => document.querySelector('h1').getBoundingClientRect().top"
                            " - document.querySelector('header').getBoundingClientRect().bottom")
        assert gap >= 16, f"{path} at {viewport['width']} px: the heading is {gap:.0f} px " \
                          "under the header"
        overflow = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
        assert overflow <= 0, f"{path} at {viewport['width']} px scrolls sideways by {overflow} px"
        page.close()


@pytest.fixture(scope="module")
def site11(tmp_path_factory):
    """Stage 11 (the progress bar) under `python -m grader run`, with demo data: its web port."""
    folder = tmp_path_factory.mktemp("browser11")
    project = screenshots.prepare_stage(11, folder)
    process, web, _ = screenshots.start_stack(project, folder / "stack.log")
    yield f"http://127.0.0.1:{web}"
    screenshots.stop_stack(process)


BAR_VALUE = "() => { const bar = document.querySelector('#rebuild-bar');" \
            " return bar.hasAttribute('value') ? bar.value : null; }"


def test_progress_bar_fills_to_100_while_the_button_stays_busy(browser, site11):
    page = browser.new_page(viewport=screenshots.DESKTOP)
    page.goto(f"{site11}/search/rebuild/", wait_until="networkidle")
    polls = []
    page.on("request", lambda r: "/tasks/" in r.url and polls.append(r.url))
    bar = page.get_by_role("progressbar", name="Rebuild progress", include_hidden=True)
    assert bar.count() == 1, "one progress bar, named by its label"
    assert not bar.is_visible(), "the bar shows only once a rebuild starts"
    page.fill("#rebuild-email", "ada@example.com")
    button = page.locator("#rebuild-form button")
    button.click()
    assert button.is_disabled(), "the button stays enabled while a rebuild runs"
    # Midway: a value between 0 and 100 (demo data: 5 albums, half a second each).
    page.wait_for_function(f"() => {{ const v = ({BAR_VALUE})(); return v > 0 && v < 100; }}",
                           timeout=30_000)
    assert bar.is_visible() and button.is_disabled()
    assert "albums" in page.locator("#rebuild-status").inner_text()
    page.wait_for_function("() => document.querySelector('#rebuild-status')"
                           ".innerText.startsWith('Done')", timeout=60_000)
    assert page.evaluate(BAR_VALUE) == 100
    assert button.is_enabled()
    assert "PROGRESS" not in page.locator("#rebuild-status").inner_text()
    seen = len(polls)
    page.wait_for_timeout(3000)
    assert len(polls) == seen, "the page kept polling after the rebuild was done"
    page.close()


@pytest.mark.parametrize("name", ["feedback/Ada_Lovelace.html", "summary.html"])
def test_grading_reports_fit_a_phone(browser, tmp_path, name):
    """The feedback page and the class report, every section unfolded, at 390 px."""
    from .test_reports import write_class
    page = browser.new_page(viewport=screenshots.PHONE)
    page.goto((write_class(tmp_path) / name).as_uri())
    page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
    overflow = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
    assert overflow <= 0, f"{name} at 390 px scrolls sideways by {overflow} px"
    page.close()
