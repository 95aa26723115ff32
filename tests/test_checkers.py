"""Every checker passes on its own stage and every later one, and fails on the stage before."""

import pytest

from grader.exercises import all_exercises

from .conftest import STAGES, check, failed_check, render, stage_before, words

EXERCISES = [int(e.number) for e in all_exercises()]

# What each checker must say about the stage before its exercise: (check title, words in it).
BEFORE = {
    1: ("config/celery.py defines a Celery app", "There is no config/celery.py in your project yet"),
    2: ("redirects at once", "the view feedback.views.feedback_form still sends it itself"),
    3: ("answers 202 at once", "the view still rebuilds the index while the visitor waits"),
    4: ("redirects at once", "the view still calls the playlist API"),
    5: ("An album made with the ORM", "published no send_album_congratulations message"),
    6: ("remind_inactive_artists is a Celery task", "has no Celery task named remind_inactive_artists"),
    7: ("send_weekly_digest is a Celery task", "has no Celery task named send_weekly_digest"),
    8: ("Flower hears your task's events", "Flower heard no event at all"),
    9: ("503, 503, 200", "without a retry"),
    10: ("A worker started later", "that message never came back"),
    11: ("reports state PROGRESS", "stored no state of its own"),
    12: ("config/tasks.py defines run_task", "There is no config/tasks.py in your project yet"),
}


@pytest.mark.parametrize("number", EXERCISES)
def test_passes_on_its_stage_and_later(number, stages, broker_url):
    for stage in (n for n in STAGES if n >= number):
        run = check(f"{number:02d}", stages[stage], broker_url)
        assert run.passed, f"exercise {number:02d} on stage {stage:02d}:\n{render(run)}"


@pytest.mark.parametrize("number", EXERCISES)
def test_fails_on_the_stage_before(number, stages, broker_url):
    before = stage_before(number)
    run = check(f"{number:02d}", stages[before], broker_url)
    title, message = BEFORE[number]
    assert message in words(failed_check(run, title)), render(run)
    # Points are for work done: what already passes before the exercise is a @guard.
    earned = [c["title"] for c in run.checks if c["status"] == "passed" and not c.get("guard")
              and c["id"] not in ("loads", "broker")]
    assert not earned and run.count("passed") == 0, (
        f"stage {before:02d} already passes these checks of exercise {number:02d}; mark "
        f"them @guard: {earned}\n{render(run)}")
