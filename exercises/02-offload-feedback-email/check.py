"""Exercise 02 · Send the feedback email from a worker."""

import time
from urllib.parse import urlsplit

import pytest
from celery.exceptions import TimeoutError as CeleryTimeoutError
from django.test import override_settings
from django.urls import resolve

from grader.harness import expect, fail, needs, timed
from grader.harness.finished import Finished, explain

EMAIL_DELAY = 1.0  # seconds the email takes: long enough that a slow view cannot hide
FAST = 0.5  # seconds a view may take to answer
TASK = "feedback.tasks.send_feedback_email_task"
STEP_3 = "#step-3-call-it-with-delay"
posted = {}  # what the valid POST sent, for the checks that follow it


@pytest.fixture(scope="module")
def slow_email():
    """The email takes EMAIL_DELAY seconds, from the POST until it has arrived."""
    with override_settings(FEEDBACK_EMAIL_DELAY=EMAIL_DELAY):
        yield


@pytest.fixture(scope="module")
def finished():
    """How the worker ended each task message, for the whole checker."""
    with Finished() as recorder:
        yield recorder


def _task(project):
    return project.task(TASK, exercise="02", lesson="#step-1-a-task-that-sends-the-email",
                        expected="@shared_task def send_feedback_email_task(email_address, "
                        "message) in feedback/tasks.py")


def _redirects_to_thanks(response) -> bool:
    """A redirect to /feedback/thanks/, whatever its query string or host."""
    return (response.status_code in (301, 302, 303)
            and urlsplit(response.url).path.rstrip("/").endswith("/feedback/thanks"))


def _sent_instead(app, messages) -> str:
    """What the view published instead of send_feedback_email_task, in words; "" if nothing."""
    names = sorted({m.task for m in messages})
    if not names:
        return ""
    unknown = [n for n in names if n not in app.tasks]
    if unknown:
        return (f", but published a message for {', '.join(map(repr, unknown))}: no task has "
                "that name, so the worker drops it with \"Received unregistered task\"")
    return f", but published {', '.join(names)} instead"


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
                                    published, finished, fake):
    """A valid POST to /feedback/ redirects at once, before the email is sent"""
    form = {"email": fake.email(), "message": fake.message()}
    posted.update(form, outbox=outbox)
    client.get("/feedback/")  # loads the URLs, the view and its template: not timed
    started = time.monotonic()
    try:
        response = client.post("/feedback/", form)
    except CeleryTimeoutError as exc:
        fail(f"POST /feedback/ waited {time.monotonic() - started:.1f} s for the task's result, "
             f"then raised celery.exceptions.TimeoutError ({exc}).",
             f"an answer in under {FAST} s; nothing in the view should wait for the task",
             "Call .delay() and return the redirect; do not call .get() on the result.",
             lesson=STEP_3)
    took = time.monotonic() - started
    already_sent = outbox.sent
    view = resolve("/feedback/").func
    view_name = f"{view.__module__}.{getattr(view, '__name__', type(view).__name__)}"
    if already_sent and already_sent[0].thread not in finished.threads:
        fail(f"POST /feedback/ took {took:.1f} s, and the email was already sent when the "
             f"answer came: the view {view_name} still sends it itself while the visitor waits.",
             f"an answer in under {FAST} s, with the email sent later by a worker",
             "In the view, call send_feedback_email_task.delay(email, message): not "
             "send_feedback_email(...), and not the task itself or its .apply(), which run it "
             "right in the request.", lesson=STEP_3)
    if already_sent:
        fail(f"POST /feedback/ took {took:.1f} s: the view {view_name} waited for the worker "
             "to send the email before answering.",
             f"an answer in under {FAST} s; nothing in the view should wait for the task",
             "Call .delay() and return the redirect; do not call .get() on the result, not "
             "even with a short timeout: Celery looks at that timeout only about once a "
             "second, so the view waits that long, and then raises or gets the result.",
             lesson=STEP_3, timing=True)
    expect(took < FAST, f"POST /feedback/ took {took:.2f} s.", f"an answer in under {FAST} s",
           lesson=STEP_3, timing=True)
    expect(_redirects_to_thanks(response), f"The answer was {response.status_code}"
           + (f", to {response.url}" if response.has_header("Location") else "") + ".",
           "a redirect to /feedback/thanks/, as before")
    mine = published.of(_task(project).name)
    expect(mine, "The view answered quickly, and published no send_feedback_email_task message"
           + (_sent_instead(celery_app, published.messages) or ": nothing will send the email")
           + ".", "exactly one send_feedback_email_task message on the broker",
           "send_feedback_email_task.delay(...) (or apply_async, or send_task with the name "
           f"{TASK!r}).", lesson=STEP_3)
    expect(len(mine) == 1, f"The view answered quickly, and published {len(mine)} "
           "send_feedback_email_task messages.",
           "exactly one send_feedback_email_task message on the broker", lesson=STEP_3)
    posted["id"], posted["eta"] = mine[0].id, mine[0].headers.get("eta")


# Before exercise 02 an invalid POST enqueues nothing either: this proves something only once
# a valid POST enqueues.
@needs(test_valid_post_answers_at_once)
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
           lesson=STEP_3)
    strays = [s for s in outbox.sent if s.message.to == ["not-an-address"]]
    expect(not strays, "An email was sent for an invalid form.", "no email")


@needs(test_valid_post_answers_at_once)
def test_worker_sends_one_email(slow_email, finished):
    """Exactly one email arrives afterwards, sent by the worker, to the visitor"""
    outbox = posted["outbox"]  # the POST's outbox: it holds the email even if it came early
    within = EMAIL_DELAY + 4
    deadline = time.monotonic() + within
    # Count once the task has ended: everything it sends is in by then, on any load.
    ended = finished.wait([posted["id"]], within).get(posted["id"])
    broke = ended is not None and (ended.error is not None or ended.state == "UNKNOWN")
    if not outbox.sent and not broke:  # something other than the task may still send it
        outbox.wait_for(1, within=max(0.0, deadline - time.monotonic()))
    sent = outbox.sent
    if not sent and broke:
        fail(f"No email arrived. {explain(ended, 'send_feedback_email_task')}",
             "the task to run without an error and send one email",
             "Run `celery -A config worker -l info`, post the form, and read the error.",
             lesson="#step-4-run-the-worker-and-see-the-difference")
    if not sent and ended is None and posted.get("eta"):
        fail(f"No email arrived within {within:g} s of the POST: the view published "
             f"send_feedback_email_task to run later (eta {posted['eta']}), so the worker "
             "holds it until then.", "the worker to send the email as soon as it can",
             "Drop countdown= (or eta=) from apply_async, or call .delay().", lesson=STEP_3)
    if not sent:
        fail(f"No email arrived within {within:g} s of the POST. "
             + (explain(ended, "send_feedback_email_task") if ended is None
                else "send_feedback_email_task ran on the worker and sent nothing."),
             "the worker to send one email",
             "The task calls send_feedback_email(email_address, message). Is the worker "
             "running? Try `celery -A config worker -l info` and post the form.",
             lesson="#step-4-run-the-worker-and-see-the-difference")
    expect(len(sent) == 1, f"{len(sent)} emails arrived for one POST.", "exactly one",
           "Send it once, in the task.")
    email = sent[0]
    if email.thread not in finished.threads:
        fail("The email was sent from the request, not from the worker."
             if email.thread == "MainThread" else
             f"The email was sent from a thread the request started ({email.thread}), not by "
             "the Celery worker: it dies with the web process, and nobody retries it.",
             "the worker to send it, in send_feedback_email_task",
             "The task calls send_feedback_email(email_address, message); the view only calls "
             ".delay().", lesson=STEP_3)
    email = email.message
    expect(email.to == [posted["email"]], f"The email went to {email.to}.",
           f"it to go to the address in the form, {posted['email']}",
           "Pass the form's email to the task.")
    expect(email.subject == "Thank you for your feedback", f"Its subject is {email.subject!r}.",
           "'Thank you for your feedback'")
    expect(posted["message"] in email.body,
           "Its body does not quote the visitor's message.",
           f"the body to contain {posted['message']!r}", "Pass the form's message to the task.")
