"""Exercise 08 · Watch the workers with Flower."""

import contextlib
import re
import shutil
import tempfile
import time
from pathlib import Path

from celery.states import READY_STATES as states_ready

from grader.harness import expect, fail, needs, timed
from grader.harness.finished import Finished, explain
from grader.harness.project import settings_advice

EVENTS = ("task-sent", "task-received", "task-started", "task-succeeded")
WORKER_EVENTS = EVENTS[1:]
RESULT_WITHIN = 5.0  # seconds for the worker to run the watched tasks
EVENTS_WITHIN = 2.0  # seconds for the events to reach Flower once the tasks have finished
LATE_WITHIN = 5.0  # more seconds, to tell events that come late from events that never come
FEEDBACK = "feedback.tasks.send_feedback_email_task"
SETTING = {"worker_send_task_events": "CELERY_WORKER_SEND_TASK_EVENTS",
           "task_send_sent_event": "CELERY_TASK_SEND_SENT_EVENT",
           "task_track_started": "CELERY_TASK_TRACK_STARTED"}
LOGIN_STEP = "#step-2-a-login-for-flower-from-the-environment"
watched = {}  # task id: label, of the tasks the events check ran (for the API check)


def project_environment(fake):
    """Load the project as production runs it: settings written only `if DEBUG:` don't count."""
    return {"DEBUG": "False"}


# -- the tasks this checker watches ------------------------------------------------------------

def _debug_task(project):
    return project.task("config.celery.debug_task", exercise="01",
                        expected="config.celery.debug_task from exercise 01, a task this "
                        "check watches", lesson="01-celery-app.md#step-5-a-first-task")


def _feedback_task(project):
    return project.task(FEEDBACK, exercise="02",
                        expected="send_feedback_email_task(email_address, message) from "
                        "exercise 02, a task this check watches",
                        lesson="02-offload-feedback-email.md#step-1-a-task-that-sends-the-email")


def _words(kinds, joiner="and") -> str:
    kinds = list(kinds)
    return ", ".join(kinds[:-1]) + f" {joiner} {kinds[-1]}" if len(kinds) > 1 else "".join(kinds)


def _login_users(logins) -> str:
    """The logins with their passwords hidden (a part without ":" may be a password)."""
    def hidden(login):
        user, colon, _ = str(login).partition(":")
        return f"{user}:***" if colon else "*** (no colon)"
    return ", ".join(hidden(login) for login in logins)


def _advice(project, missing: dict[str, str]) -> str:
    return settings_advice(project, missing, SETTING,
                           "Task events are for production too: set them unconditionally.")


# -- events ----------------------------------------------------------------------------------

@timed  # the events must arrive within EVENTS_WITHIN: a busy machine can delay them
def test_task_events(project, celery_app, worker, flower, fake):
    """Flower hears your task's events for every task: sent, received, started, succeeded"""
    tasks = {"debug_task": (_debug_task(project), ()),
             "send_feedback_email_task": (_feedback_task(project), (fake.email(), fake.message()))}
    with Finished() as finished:
        sent = {task.delay(*args).id: label for label, (task, args) in tasks.items()}
        watched.clear()
        watched.update(sent)
        ended = finished.wait(sent, RESULT_WITHIN)
    for task_id, label in sent.items():
        if task_id in ended and ended[task_id].error is not None:
            # The harness adds the task's own traceback, trimmed to the student's files.
            fail(explain(ended[task_id], label),
                 f"{label} to succeed, so that Flower hears task-succeeded",
                 lesson="#check")
    late = [label for task_id, label in sent.items() if task_id not in ended]
    expect(not late, f"The worker did not finish {_words(late)} within {RESULT_WITHIN:g} s.",
           "the worker to run each task",
           lesson="01-celery-app.md#step-4-start-a-worker")
    wanted = {task_id: EVENTS for task_id in sent}
    seen = flower.wait_for_all(wanted, EVENTS_WITHIN)
    missing = {i: [k for k in EVENTS if k not in seen[i]] for i in sent}
    if not any(missing.values()):
        return
    _explain_missing(project, celery_app, flower, tasks, sent, seen, missing, ended)


def _explain_missing(project, app, flower, tasks, sent, seen, missing, ended):
    """Fail with the real cause: a setting off (or lost), a task that opts out, or lateness."""
    first = next(i for i in sent if missing[i])
    label, heard = sent[first], seen[first]
    heard_words = (f"Flower heard only {_words(dict.fromkeys(heard))}" if heard
                   else "Flower heard no event at all")
    observed = (f"The worker ran {label}, and in the {EVENTS_WITHIN:g} s after it finished "
                f"{heard_words} for it: no {_words(missing[first], 'or')}.")
    expected = f"all four events for every task: {_words(EVENTS)}"
    lesson = "#step-1-turn-task-events-on"
    kinds = {k for i in sent for k in missing[i]}
    off = {}
    if kinds & set(WORKER_EVENTS) and not app.conf.worker_send_task_events:
        off["worker_send_task_events"] = (
            "Set CELERY_WORKER_SEND_TASK_EVENTS = True: the worker reports received, started "
            "and succeeded only with it (`celery worker -E` does it for one worker only).")
    if "task-sent" in kinds and not app.conf.task_send_sent_event:
        off["task_send_sent_event"] = (
            "Set CELERY_TASK_SEND_SENT_EVENT = True: task-sent comes from the process that "
            "calls .delay(), not from the worker, and only with this setting.")
    if off:
        fail(observed, expected, _advice(project, off) + " (Flower itself would switch the "
             "worker's events on every few seconds; this check doesn't, so your settings "
             "alone count.)", lesson=lesson)
    # The settings are on: the events come late, or this task never sends any.
    quiet = [sent[i] for i in sent if missing[i] and not tasks[sent[i]][0].send_events]
    if quiet:
        fail(observed, expected, f"{_words(quiet)} says send_events=False, so the worker keeps "
             "quiet about it: Flower could never show it. Remove send_events=False.",
             lesson=lesson)
    late = flower.wait_for_all({i: EVENTS for i in sent}, LATE_WITHIN)
    if all(set(EVENTS) <= set(late[i]) for i in sent):
        delay = max(flower.arrived(i)[k] - ended[i].at for i in sent for k in missing[i])
        fail(f"Every event of {_words(sent.values())} came, but up to {delay:.1f} s after its "
             f"task finished.", f"the events within {EVENTS_WITHIN:g} s",
             "Your settings are right: a very busy machine delays events. Run the check again.",
             lesson=lesson, timing=True)
    fail(observed, expected, "The settings for task events are on in the app, and yet these "
         f"events never came (not within {EVENTS_WITHIN + LATE_WITHIN:g} s): does something "
         "switch events off for this task or this worker (send_events, a task_events option)?",
         lesson=lesson)


def _backend_states(celery_app, task) -> list[str]:
    """Run the task, noting every state the result backend publishes for it, in order."""
    from celery.utils import uuid

    backend, task_id, states = celery_app.backend, uuid(), []
    pubsub = backend.client.pubsub()
    try:
        pubsub.subscribe(backend.get_key_for_task(task_id))
        deadline = time.monotonic() + RESULT_WITHIN
        while (pubsub.get_message(timeout=0.1) or {}).get("type") != "subscribe":
            if time.monotonic() > deadline:  # never seen: Redis confirms every subscription
                fail("The result backend did not confirm a subscription.", "a working Redis")
        task.apply_async(task_id=task_id)
        while not set(states) & states_ready and time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0.1)
            if message and message["type"] == "message":
                states.append(backend.decode_result(message["data"])["status"])
    finally:
        pubsub.close()
    return states


def test_started_state(project, celery_app, worker):
    """While your task runs, its result says STARTED (CELERY_TASK_TRACK_STARTED)"""
    states = _backend_states(celery_app, _debug_task(project))
    expect(set(states) & states_ready, f"debug_task did not finish within {RESULT_WITHIN:g} s.",
           "the worker to run debug_task", lesson="01-celery-app.md#step-4-start-a-worker")
    usual = ("Set CELERY_TASK_TRACK_STARTED = True: the worker then stores STARTED when it "
             "begins a task (task events don't change what the result backend says).")
    expect("STARTED" in states,
           f"The result backend went PENDING → {' → '.join(states)} for debug_task: while it "
           "ran, it still looked PENDING, like a task nobody has picked up.",
           "STARTED while the task runs, then SUCCESS",
           usual if celery_app.conf.task_track_started
           else _advice(project, {"task_track_started": usual}),
           lesson="#step-1-turn-task-events-on")


# -- Flower's login ---------------------------------------------------------------------------

def _config(project, flower, alone: bool = False):
    """Load the project's flowerconfig.py into the running Flower; return its logins.

    ``alone``: load a copy of it from an empty folder, where no .env lies beside it, as on a
    server that was never given one.
    """
    from grader.harness.flower import FlowerConfigError

    path = project.path / "flowerconfig.py"
    elsewhere = [str(f.relative_to(project.path)) for f in project.path.glob("*/flowerconfig.py")]
    expect(path.is_file(), "There is no flowerconfig.py next to manage.py"
           + (f" (there is {elsewhere[0]}, where Flower never looks)" if elsewhere else "")
           + ", so Flower runs without a login: anyone who reaches its port can read every "
           "task and revoke it.",
           "flowerconfig.py beside manage.py (`celery -A config flower` reads it from there), "
           'with basic_auth read from FLOWER_BASIC_AUTH',
           "Flower reads variables from the real environment only, never from .env: the "
           "config file is where .env's login reaches it.", lesson=LOGIN_STEP)
    flower.options.basic_auth = []  # what the file sets, and nothing else
    with contextlib.ExitStack() as stack:
        if alone:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="flowerconfig-"))
            path = Path(shutil.copy(path, folder))
        try:
            flower.load_config(path)
        except FlowerConfigError as exc:
            return exc
    return [login for login in flower.options.basic_auth or [] if login]


def _variable_asked(error) -> str | None:
    """The environment variable a failing flowerconfig.py asked for, if that is why it failed."""
    if isinstance(error, KeyError) and error.args and isinstance(error.args[0], str):
        return error.args[0]
    found = re.search(r"Set the (\w+) environment variable", str(error or ""))
    return found[1] if found else None


def _dotenv(project) -> dict[str, str]:
    from grader.stack import read_dotenv
    return read_dotenv(project.path / ".env")


def test_config_reads_login(project, flower, monkeypatch):
    """flowerconfig.py gives Flower the login in FLOWER_BASIC_AUTH, from the environment"""
    monkeypatch.setenv("FLOWER_BASIC_AUTH", flower.login)
    logins = _config(project, flower)
    if isinstance(logins, Exception):
        asked = _variable_asked(logins.error)
        if asked and asked != "FLOWER_BASIC_AUTH":
            fail(f"With FLOWER_BASIC_AUTH set, flowerconfig.py failed: it reads {asked}, which "
                 f"is not set.\n{logins}", "flowerconfig.py to read the login from "
                 "FLOWER_BASIC_AUTH", f"Read FLOWER_BASIC_AUTH, not {asked}: that is the "
                 "variable .env.example, `make run` and this course use.", lesson=LOGIN_STEP)
        fail(f"With FLOWER_BASIC_AUTH set, loading flowerconfig.py failed:\n{logins}",
             "flowerconfig.py to load and set basic_auth", lesson=LOGIN_STEP)
    expect(logins, "With FLOWER_BASIC_AUTH set, flowerconfig.py sets no basic_auth, so Flower "
           "would let anyone in.", 'basic_auth = [os.environ["FLOWER_BASIC_AUTH"]] (or '
           'env.list("FLOWER_BASIC_AUTH") with django-environ)',
           "Is the name basic_auth, and does it read FLOWER_BASIC_AUTH?", lesson=LOGIN_STEP)
    if logins == [flower.login]:
        return
    user = flower.login.partition(":")[0]
    observed = (f"This check set FLOWER_BASIC_AUTH to {user}:*** (a random login), and "
                f"flowerconfig.py gave Flower {_login_users(logins)} instead.")
    expected = "basic_auth to be the login in FLOWER_BASIC_AUTH, read from the environment"
    dotenv = {name: [part.strip() for part in value.split(",")]
              for name, value in _dotenv(project).items()}
    if dotenv.get("FLOWER_BASIC_AUTH") == logins:
        fail(observed, expected, "That is the login in your .env: flowerconfig.py lets .env win "
             "over the environment (read_env(..., overwrite=True)?). Read .env without "
             "overwriting, as config/settings.py does, so that a variable set by the server "
             "wins.", lesson=LOGIN_STEP)
    if ":".join(map(str, logins)) == flower.login:
        fail(observed, expected, "Each login is one string, user:password. Flower splits "
             "FLOWER_BASIC_AUTH at commas (between logins), never at the colon: split(\":\") "
             "gives it the user and the password as two logins. Pass the value as it is, or "
             'env.list("FLOWER_BASIC_AUTH").', lesson=LOGIN_STEP)
    other = next((name for name, value in dotenv.items() if value == logins), None)
    if other:
        fail(observed, expected, f"That is {other} from your .env: read FLOWER_BASIC_AUTH "
             "instead.", lesson=LOGIN_STEP)
    if flower.login in logins:
        fail(observed, expected, "Beside the login from FLOWER_BASIC_AUTH, the file adds a "
             "login written in it, which everyone who reads the code knows. Keep only "
             "FLOWER_BASIC_AUTH's.", lesson=LOGIN_STEP)
    fail(observed, expected, "A login written in the file is known to everyone who reads the "
         'code: read it with os.environ["FLOWER_BASIC_AUTH"] and keep the value in .env.',
         lesson=LOGIN_STEP)


@needs(test_config_reads_login)
def test_config_without_login(project, flower, monkeypatch):
    """Without FLOWER_BASIC_AUTH, flowerconfig.py stops Flower: no default login, never open"""
    monkeypatch.delenv("FLOWER_BASIC_AUTH", raising=False)
    # A copy, away from the project's .env: a .env holding the login would hide a default.
    logins = _config(project, flower, alone=True)
    if isinstance(logins, Exception):
        return  # `celery flower` stops on this error: no Flower without a login
    in_dotenv = _dotenv(project).get("FLOWER_BASIC_AUTH")
    if in_dotenv and logins == [s.strip() for s in in_dotenv.split(",")]:
        return  # the project's .env, found by its own path (settings' BASE_DIR...): right
    expect(logins, "With FLOWER_BASIC_AUTH unset, flowerconfig.py loads and sets no login: "
           "Flower would start open to anyone.",
           "flowerconfig.py to fail when FLOWER_BASIC_AUTH is missing, so Flower never starts "
           "open", 'os.environ["FLOWER_BASIC_AUTH"] raises KeyError when it is unset; '
           'os.environ.get(...) quietly gives None, and a default of [] gives no login.',
           lesson=LOGIN_STEP)
    fail(f"With FLOWER_BASIC_AUTH unset, flowerconfig.py still gave Flower a login "
         f"({_login_users(logins)}): a default written in the file, which anyone who reads "
         "the code knows.", "flowerconfig.py to fail when FLOWER_BASIC_AUTH is missing",
         'Read it with os.environ["FLOWER_BASIC_AUTH"] (or env.list(...)), without a default.',
         lesson=LOGIN_STEP)


@needs(test_task_events, test_config_reads_login)
def test_api_needs_login(project, flower, monkeypatch, fake):
    """Flower answers 401 without your login, and with it lists your tasks as SUCCESS"""
    monkeypatch.setenv("FLOWER_BASIC_AUTH", flower.login)
    _config(project, flower)
    user = flower.login.partition(":")[0]
    wrong = f"{user}:{fake.token(10)}"
    for path, login, who in (("/api/tasks", None, "without a login"),
                             ("/", None, "without a login"),
                             ("/api/tasks", wrong, "with a wrong password")):
        status, _ = flower.get(path, login)
        expect(status == 401, f"Flower answered {status} to GET {path} {who}.",
               "401: Flower asks for the login first",
               lesson="#never-expose-flower-without-a-login")
    status, body = flower.get("/api/tasks", flower.login)
    expect(status == 200, f"Flower answered {status} to GET /api/tasks with the login in "
           f"FLOWER_BASIC_AUTH: {body[:200]}", "200 and the list of tasks", lesson=LOGIN_STEP)
    for task_id, label in watched.items():
        task = flower.task(task_id, flower.login)
        state = task.get("state") if task else None
        expect(state == "SUCCESS",
               f"Flower's /api/tasks lists {label} {task_id} with state {state}."
               if task else f"Flower's /api/tasks does not list {label} {task_id}.",
               "the task, with state SUCCESS", lesson="#step-5-the-tasks-page-and-a-tasks-page")
