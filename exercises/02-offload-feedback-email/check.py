"""Exercise 02 · Send the feedback email from a worker."""

import time

import pytest
from django.test import override_settings
from django.urls import resolve

from grader.harness import expect, fail, needs, timed

EMAIL_DELAY = 1.0  # seconds the email takes: long enough that a slow view cannot hide
FAST = 0.5  # seconds a view may take to answer
TASK = "feedback.tasks.send_feedback_email_task"
posted = {}  # what the valid POST sent, for the checks that follow it


@pytest.fixture(scope="module")
def slow_email():
    """The email takes EMAIL_DELAY seconds, from the POST until it has arrived."""
    with override_settings(FEEDBACK_EMAIL_DELAY=EMAIL_DELAY):
        yield


def _task(project):
    return project.task(TASK, exercise="02", lesson="#step-1-a-task-that-sends-the-email",
                        expected="@shared_task def send_feedback_email_task(email_address, "
                        "message) in feedback/tasks.py")


def test_task_exists(project, celery_app):
    """feedback/tasks.py defines the task send_feedback_email_task"""
    _task(project)


@needs(test_task_exists)
def test_task_is_shared(project, celery_app):
    """send_feedback_email_task is a @shared_task: it works with any Celery app"""
    task = _task(project)
    problem = project.not_shared(task, celery_app)
    expect(problem is None, f"The task {problem}.",
           "@shared_task, which registers the task on every Celery app and uses whichever "
           "one is current",
           "Replace @app.task (and the import of app) with `from celery import shared_task`.",
           lesson="#step-2-why-shared_task")


@timed
def test_valid_post_answers_at_once(project, celery_app, worker, client, slow_email, outbox,
                                    published, fake):
    """A valid POST to /feedback/ redirects at once, before the email is sent"""
    form = {"email": fake.email(), "message": fake.message()}
    posted.update(form, outbox=outbox)
    started = time.monotonic()
    response = client.post("/feedback/", form)
    took = time.monotonic() - started
    already_sent = outbox.sent
    view = resolve("/feedback/").func
    view_name = f"{view.__module__}.{getattr(view, '__name__', type(view).__name__)}"
    if already_sent and not already_sent[0].from_worker:
        fail(f"POST /feedback/ took {took:.1f} s, and the email was already sent when the "
             f"answer came: the view {view_name} still sends it itself while the visitor waits.",
             f"an answer in under {FAST} s, with the email sent later by a worker",
             "In the view, call send_feedback_email_task.delay(email, message) instead of "
             "send_feedback_email(...).", lesson="#step-3-call-it-with-delay")
    if already_sent:
        fail(f"POST /feedback/ took {took:.1f} s: the view {view_name} waited for the worker "
             "to send the email before answering.",
             f"an answer in under {FAST} s; nothing in the view should wait for the task",
             "Call .delay() and return the redirect; do not call .get() on the result.",
             lesson="#step-3-call-it-with-delay", timing=True)
    expect(took < FAST, f"POST /feedback/ took {took:.2f} s.", f"an answer in under {FAST} s",
           lesson="#step-3-call-it-with-delay", timing=True)
    expect(response.status_code in (301, 302, 303)
           and response.url.rstrip("/").endswith("/feedback/thanks"),
           f"The answer was {response.status_code}"
           + (f", to {response.url}" if response.has_header("Location") else "") + ".",
           "a redirect to /feedback/thanks/, as before")
    count = len(published.of(_task(project).name))
    expect(count == 1, f"The view answered quickly, and published {count} "
           "send_feedback_email_task messages.",
           "exactly one send_feedback_email_task message on the broker",
           lesson="#step-3-call-it-with-delay")


def test_invalid_post_enqueues_nothing(project, celery_app, client, outbox, published, fake):
    """An invalid POST shows the form again with errors, and enqueues nothing"""
    # This runs while the worker is still busy with the valid POST's email.
    response = client.post("/feedback/", {"email": "not-an-address", "message": fake.message()})
    expect(response.status_code == 200, f"The answer was {response.status_code}.",
           "the form again (200), with its errors")
    form = response.context and response.context.get("form")
    expect(form is not None and form.errors, "The page shows no form errors.",
           "an error next to the email field")
    expect(not published.messages,
           f"It published {len(published.messages)} task message(s) for a form that is not valid.",
           "nothing enqueued until form.is_valid() says yes",
           "Call .delay() inside `if form.is_valid():`, after reading form.cleaned_data.",
           lesson="#step-3-call-it-with-delay")
    strays = [s for s in outbox.sent if s.message.to == ["not-an-address"]]
    expect(not strays, "An email was sent for an invalid form.", "no email")


@needs(test_valid_post_answers_at_once)
def test_worker_sends_one_email(slow_email):
    """Exactly one email arrives afterwards, sent by the worker, to the visitor"""
    outbox = posted["outbox"]  # the POST's outbox: it holds the email even if it came early
    within = EMAIL_DELAY + 4
    sent = outbox.wait_for(1, within=within)
    expect(sent, f"No email arrived within {within:g} s of the POST.",
           "the worker to send one email", "Is the worker running the task you enqueue? Try "
           "`celery -A config worker -l info` and post the form.",
           lesson="#step-4-run-the-worker-and-see-the-difference")
    sent = outbox.settle(quiet=0.05, within=1)
    expect(len(sent) == 1, f"{len(sent)} emails arrived.", "exactly one")
    email = sent[0].message
    expect(sent[0].from_worker, "The email was sent from the request, not from the worker.",
           "the worker to send it")
    expect(email.to == [posted["email"]], f"The email went to {email.to}.",
           f"it to go to the address in the form, {posted['email']}",
           "Pass the form's email to the task.")
    expect(email.subject == "Thank you for your feedback", f"Its subject is {email.subject!r}.",
           "'Thank you for your feedback'")
    expect(posted["message"] in email.body,
           "Its body does not quote the visitor's message.",
           f"the body to contain {posted['message']!r}", "Pass the form's message to the task.")
