"""Typical wrong answers: each fails the check it should, with the words a student needs.

A wrong answer is a stage with a few edits. Each edit names text that must be in the file, so
when a solution changes, the edit fails loudly instead of silently testing nothing.
"""

from dataclasses import dataclass, field

import pytest

from .conftest import check, failed_check, render, words


@dataclass
class Wrong:
    exercise: str
    why: str
    edits: list[tuple[str, str, str]]  # (file, old text, new text); old "" appends
    fails: str  # part of the failing check's title
    says: str  # words the failure must contain
    stage: int = field(default=0)

    def __post_init__(self):
        self.stage = self.stage or int(self.exercise)


def _apply(project, edits):
    for name, old, new in edits:
        path = project / name
        text = path.read_text()
        if old:
            assert old in text, f"{name} no longer contains {old!r}: update this wrong answer"
            text = text.replace(old, new)
        else:
            text += new
        path.write_text(text)


EAGER = "\nCELERY_TASK_ALWAYS_EAGER = True\n"
DELAY_CALL = ('send_feedback_email_task.delay(\n                form.cleaned_data["email"], '
              'form.cleaned_data["message"]\n            )')

WRONG = [
    # 01: the Celery app
    Wrong("01", "the broker URL is written into settings.py",
          [("config/settings.py", "CELERY_BROKER_URL = REDIS_URL",
            'CELERY_BROKER_URL = "redis://localhost:6379/0"')],
          "come from REDIS_URL", "This check set REDIS_URL"),
    Wrong("01", "the app reads no namespace",
          [("config/celery.py", ', namespace="CELERY"', "")],
          'namespace "CELERY"', "stayed None"),
    Wrong("01", "the app reads the CELERY_CONF namespace",
          [("config/celery.py", 'namespace="CELERY"', 'namespace="CELERY_CONF"')],
          'namespace "CELERY"', "reads the CELERY_CONF namespace"),
    Wrong("01", "no autodiscover_tasks()",
          [("config/celery.py", "app.autodiscover_tasks()", "")],
          "autodiscover_tasks", "did not import it"),
    Wrong("01", "debug_task is not bound",
          [("config/celery.py", "@app.task(bind=True)", "@app.task")],
          "debug_task runs on a worker", "bound task"),
    Wrong("01", "debug_task throws its result away",
          [("config/celery.py", "@app.task(bind=True)", "@app.task(bind=True, ignore_result=True)")],
          "debug_task runs on a worker", "ignore_result=True"),
    Wrong("01", "config/__init__.py does not import the app",
          [("config/__init__.py", "from .celery import app as celery_app", "celery_app = None")],
          "exposes the app as celery_app", "has no celery_app"),
    # 02: the feedback email
    Wrong("02", "the task is bound to config's app with @app.task",
          [("feedback/tasks.py", "from celery import shared_task", "from config.celery import app"),
           ("feedback/tasks.py", "@shared_task", "@app.task")],
          "@shared_task", "bound to config's app"),
    Wrong("02", "eager mode is switched on",
          [("config/settings.py", "", EAGER)],
          "eager mode off", "CELERY_TASK_ALWAYS_EAGER is on"),
    Wrong("02", "the task is called directly, without .delay()",
          [("feedback/views.py", "send_feedback_email_task.delay(", "send_feedback_email_task(")],
          "redirects at once", "still sends it itself"),
    Wrong("02", "the view waits for the task's result",
          [("feedback/views.py", DELAY_CALL, DELAY_CALL + ".get(timeout=10)")],
          "redirects at once", "waited for the worker"),
    Wrong("02", "the task is enqueued before the form is validated",
          [("feedback/views.py", "        form = FeedbackForm(request.POST)\n",
            "        form = FeedbackForm(request.POST)\n        send_feedback_email_task.delay("
            "request.POST.get('email'), request.POST.get('message'))\n"),
           ("feedback/views.py", DELAY_CALL, "pass")],
          "enqueues nothing", "for a form that is not valid"),
    Wrong("02", "the task sends the email to the wrong address",
          [("feedback/tasks.py", "send_feedback_email(email_address, message)",
            'send_feedback_email("admin@encore.example", message)')],
          "Exactly one email arrives", "to go to the address in the form"),
    # 03: results and status
    Wrong("03", "the task does not return the count",
          [("search/tasks.py", "return rebuild_index()", "rebuild_index()")],
          "returns the entry count", "returned None"),
    Wrong("03", "the status endpoint leaks the traceback",
          [("config/views.py", 'data["error"] = str(result.result)',
            'data["error"] = result.traceback')],
          "never a traceback", "Python traceback"),
    Wrong("03", "the status endpoint waits for the task",
          [("config/views.py", "    result = AsyncResult(task_id)\n",
            "    result = AsyncResult(task_id)\n    result.get(timeout=30, propagate=False)\n")],
          "reports the state", "it waited for the task"),
    Wrong("03", "the view answers 200 instead of 202",
          [("search/views.py", "status=202)", "status=200)")],
          "answers 202 at once", "status is 200"),
    Wrong("03", "eager mode is switched on",
          [("config/settings.py", "", EAGER)],
          "eager mode off", "CELERY_TASK_ALWAYS_EAGER is on"),
]


@pytest.mark.parametrize("wrong", WRONG, ids=lambda w: f"{w.exercise}-{w.why}")
def test_wrong_answer_fails_with_its_message(wrong, stage_copy, broker_url):
    project = stage_copy(wrong.stage)
    _apply(project, wrong.edits)
    run = check(wrong.exercise, project, broker_url)
    assert wrong.says in words(failed_check(run, wrong.fails)), render(run)
