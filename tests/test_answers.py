"""Answers other than the reference solution: wrong ones fail with the words a student needs,
right ones written differently pass. The answers live in tests/answers/, one module per exercise.

They run on the embedded broker: tests/test_checkers.py runs every checker on a real Redis too,
and the answers judge the checkers' reasoning, which the broker does not change. Set
ENCORE_ANSWERS_ON_REDIS=1 to run them on both (twice as long).
"""

import os

import pytest

from .answers import all_right, all_wrong, apply
from .conftest import check, failed_check, render, words


BROKERS = ["embedded"] + (["redis"] if os.environ.get("ENCORE_ANSWERS_ON_REDIS") else [])
on_brokers = pytest.mark.parametrize("broker_url", BROKERS, indirect=True)


@on_brokers
@pytest.mark.parametrize("wrong", all_wrong(), ids=lambda w: f"{w.exercise}-{w.why}")
def test_wrong_answer_fails_with_its_message(wrong, stage_copy, broker_url):
    project = stage_copy(wrong.stage)
    apply(project, wrong.edits)
    run = check(wrong.exercise, project, broker_url, **({"seed": wrong.seed} if wrong.seed else {}))
    assert wrong.says in words(failed_check(run, wrong.fails)), render(run)


@on_brokers
@pytest.mark.parametrize("right", all_right(), ids=lambda r: f"{r.exercise}-{r.why}")
def test_right_answer_written_differently_passes(right, stage_copy, broker_url):
    project = stage_copy(right.stage)
    apply(project, right.edits)
    run = check(right.exercise, project, broker_url, **({"seed": right.seed} if right.seed else {}))
    assert run.passed, render(run)
