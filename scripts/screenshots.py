"""Real screenshots of Encore and Flower for the lessons, and of the grader's pages for the
instructors' guide: `make screenshots`.

Each stage the pictures need is written from the committed course (grader/stage.py), given
Encore's demo data, and run under `python -m grader run` (web, worker, beat, Flower on the
embedded broker) on free ports; Debian's Chromium, driven by Playwright, visits the pages, clicks
where a lesson clicks, and saves PNGs into lessons/images/. Run it again after a page changes.

Needs: `apt-get install chromium` and the packages of requirements-browser.txt (`make
screenshots` installs those into .venv).
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from grader.processes import stop_group  # noqa: E402
from grader.stage import write_stage  # noqa: E402

IMAGES = REPO / "lessons" / "images"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
LOGIN = ("encore", "screenshots-only")
DESKTOP, PHONE = {"width": 1280, "height": 800}, {"width": 390, "height": 844}


@dataclass
class Shot:
    name: str  # lessons/images/<name>.png
    path: str  # on Encore (":flower" prefix: on Flower)
    actions: list = field(default_factory=list)  # callables taking the Playwright page
    viewport: dict = field(default_factory=lambda: DESKTOP)
    full_page: bool = False


def _fill_feedback(page):
    page.fill("input[name=email]", "ada@example.com")
    page.fill("textarea[name=message]", "Loved the new album page!")
    page.click("button[type=submit]")
    page.wait_for_url("**/feedback/thanks/", timeout=10_000)


def _rebuild(page):
    page.click("button[type=submit]")
    page.wait_for_function("() => document.querySelector('#rebuild-status')"
                           ".innerText.startsWith('Done')", timeout=60_000)
    time.sleep(0.3)


def _rebuild_midway(page):
    page.click("button[type=submit]")
    page.wait_for_selector("progress, [role=progressbar]", timeout=20_000)
    time.sleep(1.2)


def _ask_with_email(page):
    page.fill("input[name=email]", "ada@example.com")


def _bar_halfway(page):
    """Once the progress bar is between 40 % and 100 %: a bar that has visibly moved."""
    page.wait_for_function("() => { const bar = document.querySelector('progress');"
                           " return bar && bar.value >= 40 && bar.value < 100; }",
                           timeout=30_000)


# stage → the shots taken on it
SHOTS: dict[int, list[Shot]] = {
    0: [Shot("00-home", "/"), Shot("00-feedback-form", "/feedback/"),
        Shot("00-artists-phone", "/artists/", viewport=PHONE, full_page=True)],
    2: [Shot("02-feedback-thanks", "/feedback/", [_fill_feedback])],
    3: [Shot("03-rebuild-done", "/search/rebuild/", [_rebuild])],
    4: [Shot("04-register", "/artists/register/")],
    5: [Shot("05-album-form", "/albums/new/")],
    8: [Shot("08-flower-tasks", ":flower/tasks")],
    11: [Shot("11-rebuild-progress", "/search/rebuild/",
              [_ask_with_email, _rebuild_midway, _bar_halfway])],
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(port: int, path: str = "/") -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", path)
        return conn.getresponse().status < 500
    except OSError:
        return False


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "REDIS_"))}
    return {**env, "DEBUG": "True"}  # a site on this machine, as `make run` runs it


def prepare_stage(stage: int, folder: Path) -> Path:
    """Stage ``stage`` in ``folder``, migrated, with Encore's demo data when it has the command."""
    project = folder / f"stage{stage:02d}"
    write_stage(stage, project)
    env = _env()
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=project, env=env,
                   check=True, timeout=120)
    if (project / "music" / "management" / "commands" / "demo_data.py").is_file():
        subprocess.run([*manage, "demo_data", "--yes"], cwd=project, env=env, check=True,
                       timeout=120, stdout=subprocess.DEVNULL)
    return project


def start_stack(project: Path, log: Path):
    """`python -m grader run` on free ports; (its process, web port, Flower port)."""
    web, flower = _free_port(), _free_port()
    env = _env()
    env.update(PORT=str(web), FLOWER_PORT=str(flower), FLOWER_BASIC_AUTH=":".join(LOGIN))
    process = subprocess.Popen([sys.executable, "-m", "grader", "run", "--project",
                                str(project)], cwd=REPO, env=env, stdout=open(log, "w"),
                               stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    worker = (project / "config" / "celery.py").is_file()
    while not _answers(web) or (worker and "ready." not in log.read_text()):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_group(process)
            raise RuntimeError(f"Encore did not start for {project.name}:\n{log.read_text()}")
        time.sleep(0.2)
    time.sleep(0.5)  # Flower comes up just after the worker
    return process, web, flower


def stop_stack(process) -> None:
    """Ctrl-C, as a student stops `make run`; then make sure nothing is left."""
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        pass
    finally:
        stop_group(process)


def launch(playwright):
    """Debian's Chromium, headless, with nothing that reaches out to the network."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def _take(browser, shots: list[Shot], web: int, flower: int) -> list[Path]:
    written = []
    for shot in shots:
        on_flower = shot.path.startswith(":flower")
        context = browser.new_context(
            viewport=shot.viewport, device_scale_factor=1,
            http_credentials=dict(zip(("username", "password"), LOGIN)) if on_flower else None)
        page = context.new_page()
        url = (f"http://127.0.0.1:{flower}{shot.path[len(':flower'):]}" if on_flower
               else f"http://127.0.0.1:{web}{shot.path}")
        page.goto(url, wait_until="networkidle", timeout=30_000)
        for action in shot.actions:
            action(page)
        target = IMAGES / f"{shot.name}.png"
        page.screenshot(path=str(target), full_page=shot.full_page)
        written.append(target)
        context.close()
    return written


DOCS = REPO / "docs" / "images"
CLASS = {"ada": 3, "ben": 5, "cleo": 1}  # a small class: student → the stage they reached


def _docs_shots(browser, folder: Path) -> list[Path]:
    """docs/: a student's feedback page and the class report, from a real `make grade`."""
    submissions = folder / "class"
    for student, stage in CLASS.items():
        write_stage(stage, submissions / student)
    out = folder / "grades"
    subprocess.run([sys.executable, "-m", "grader", "grade", str(submissions), "--out", str(out),
                    "--exercises", "01-05", "--seed", "7"], cwd=REPO, env=_env(), check=True,
                   timeout=600, stdout=subprocess.DEVNULL)
    written = []
    for name, page in (("feedback-page", out / "feedback" / "ada.html"),
                       ("class-report", out / "summary.html")):
        tab = browser.new_page(viewport=DESKTOP)
        tab.goto(page.as_uri())
        target = DOCS / f"{name}.png"
        tab.screenshot(path=str(target), full_page=True)
        tab.close()
        written.append(target)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stages", nargs="*", type=int, help="only these stages (default: all)")
    parser.add_argument("--docs", action="store_true",
                        help="only docs/images: a graded class's feedback page and report")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).is_file():
        print(f"No Chromium at {CHROMIUM}: `sudo apt-get install chromium` (or set CHROMIUM=).",
              file=sys.stderr)
        return 2
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("Playwright is missing: `make screenshots` installs requirements-browser.txt.",
              file=sys.stderr)
        return 2
    IMAGES.mkdir(parents=True, exist_ok=True)
    wanted = [] if args.docs and not args.stages else args.stages or sorted(SHOTS)
    with tempfile.TemporaryDirectory(prefix="encore-shots-") as tmp, sync_playwright() as pw:
        browser = launch(pw)
        if args.docs or not args.stages:
            for path in _docs_shots(browser, Path(tmp)):
                print(f"wrote {path.relative_to(REPO)}")
        for stage in wanted:
            project = prepare_stage(stage, Path(tmp))
            process, web, flower = start_stack(project, Path(tmp) / f"stack{stage:02d}.log")
            try:
                for path in _take(browser, SHOTS.get(stage, []), web, flower):
                    print(f"wrote {path.relative_to(REPO)}")
            finally:
                stop_stack(process)
            shutil.rmtree(project, ignore_errors=True)
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
