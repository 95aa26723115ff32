"""Typical wrong answers fail the check they should, with the words a student needs.

The wrong answers themselves live in tests/wrong_answers/, one module per exercise.
"""

import pytest

from .conftest import check, failed_check, render, words
from .wrong_answers import all_wrong, apply


@pytest.mark.parametrize("wrong", all_wrong(), ids=lambda w: f"{w.exercise}-{w.why}")
def test_wrong_answer_fails_with_its_message(wrong, stage_copy, broker_url):
    project = stage_copy(wrong.stage)
    apply(project, wrong.edits)
    run = check(wrong.exercise, project, broker_url)
    assert wrong.says in words(failed_check(run, wrong.fails)), render(run)
