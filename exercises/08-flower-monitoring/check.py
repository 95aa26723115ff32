"""Exercise 08 · Watch the workers with Flower."""

import time

from celery.states import READY_STATES as states_ready

from grader.harness import expect, fail, needs, timed

EVENTS = ("task-sent", "task-received", "task-started", "task-succeeded")
WORKER_EVENTS = EVENTS[1:]
RESULT_WITHIN = 5.0  # seconds for the worker to run debug_task
EVENTS_WITHIN = 2.0  # seconds for the events to reach Flower once the task has finished
watched = {}  # the task the events check ran, for the API check


def _debug_task(project):
    return project.task("config.celery.debug_task", exercise="01",
                        expected="config.celery.debug_task from exercise 01, the task this "
                        "check watches", lesson="01-celery-app.md#step-5-a-first-task")


def _run(task):
    result = task.delay()
    try:
        result.get(timeout=RESULT_WITHIN, propagate=False)
    except Exception as exc:
        fail(f"debug_task did not finish within {RESULT_WITHIN:g} s ({type(exc).__name__}: {exc}).",
             "the worker to run debug_task", lesson="01-celery-app.md#step-4-start-a-worker")
    return result


def _words(kinds, joiner="and") -> str:
    kinds = list(kinds)
    return ", ".join(kinds[:-1]) + f" {joiner} {kinds[-1]}" if len(kinds) > 1 else "".join(kinds)


def _login_users(logins) -> str:
    return ", ".join(f"{str(login).partition(':')[0]}:***" for login in logins)


@timed  # the events must arrive within EVENTS_WITHIN: a busy machine can delay them
def test_task_events(project, celery_app, worker, flower):
    """Flower hears your task's events: sent, received, started and succeeded"""
    result = _run(_debug_task(project))
    seen = flower.wait_for_events(result.id, EVENTS, within=EVENTS_WITHIN)
    watched["id"] = result.id
    missing = [kind for kind in EVENTS if kind not in seen]
    if not missing:
        return
    heard = (f"Flower heard only {_words(dict.fromkeys(seen))}" if seen
             else "Flower heard no event at all")
    observed = (f"The worker ran debug_task, and in the {EVENTS_WITHIN:g} s after it finished "
                f"{heard} for it: no {_words(missing, 'or')}.")
    fixes = []
    if set(WORKER_EVENTS) & set(missing):
        fixes.append("CELERY_WORKER_SEND_TASK_EVENTS = True: the worker reports received, "
                     "started and succeeded only with it (or with `celery worker -E`, for that "
                     "one worker)")
    if "task-sent" in missing:
        fixes.append("CELERY_TASK_SEND_SENT_EVENT = True: task-sent comes from the process that "
                     "calls .delay(), not from the worker, and only with this setting")
    fail(observed, f"all four events: {_words(EVENTS)}",
         "Set " + "; and ".join(fixes) + ". (Flower itself would switch the worker's events on "
         "every few seconds; this check doesn't, so your settings alone count.)",
         lesson="#step-1-turn-task-events-on", timing=bool(seen))


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
    expect("STARTED" in states,
           f"The result backend went PENDING → {' → '.join(states)} for debug_task: while it "
           "ran, it still looked PENDING, like a task nobody has picked up.",
           "STARTED while the task runs, then SUCCESS",
           "Set CELERY_TASK_TRACK_STARTED = True: the worker then stores STARTED when it begins "
           "a task (task events don't change what the result backend says).",
           lesson="#step-1-turn-task-events-on")


def _config(project, flower):
    """Load the project's flowerconfig.py into the running Flower; return its logins."""
    from grader.harness.flower import FlowerConfigError

    path = project.path / "flowerconfig.py"
    expect(path.is_file(), "There is no flowerconfig.py next to manage.py, so Flower runs "
           "without a login: anyone who reaches its port can read every task and revoke it.",
           "flowerconfig.py beside manage.py (`celery -A config flower` reads it from there), "
           'with basic_auth read from FLOWER_BASIC_AUTH',
           "Flower reads variables from the real environment only, never from .env: the "
           "config file is where .env's login reaches it.",
           lesson="#step-2-a-login-for-flower-from-the-environment")
    flower.options.basic_auth = []  # what the file sets, and nothing else
    try:
        flower.load_config(path)
    except FlowerConfigError as exc:
        return exc
    return [login for login in flower.options.basic_auth or [] if login]


def test_config_reads_login(project, flower, monkeypatch):
    """flowerconfig.py gives Flower the login in FLOWER_BASIC_AUTH, from the environment"""
    monkeypatch.setenv("FLOWER_BASIC_AUTH", flower.login)
    logins = _config(project, flower)
    if isinstance(logins, Exception):
        fail(f"With FLOWER_BASIC_AUTH set, loading flowerconfig.py failed:\n{logins}",
             "flowerconfig.py to load and set basic_auth",
             lesson="#step-2-a-login-for-flower-from-the-environment")
    expect(logins, "flowerconfig.py sets no basic_auth, so Flower would let anyone in.",
           'basic_auth = [os.environ["FLOWER_BASIC_AUTH"]] (or env.list(...) with '
           "django-environ)", lesson="#step-2-a-login-for-flower-from-the-environment")
    user = flower.login.partition(":")[0]
    expect(logins == [flower.login],
           f"This check set FLOWER_BASIC_AUTH to {user}:*** (a random login), and "
           f"flowerconfig.py gave Flower {_login_users(logins)} instead.",
           "basic_auth to be the login in FLOWER_BASIC_AUTH, read from the environment",
           "A login written in the file is known to everyone who reads the code: read it "
           'with os.environ["FLOWER_BASIC_AUTH"] and keep the value in .env.',
           lesson="#step-2-a-login-for-flower-from-the-environment")


@needs(test_config_reads_login)
def test_config_without_login(project, flower, monkeypatch):
    """Without FLOWER_BASIC_AUTH, flowerconfig.py stops Flower: no default login, never open"""
    from grader.stack import read_dotenv

    monkeypatch.delenv("FLOWER_BASIC_AUTH", raising=False)
    logins = _config(project, flower)
    if isinstance(logins, Exception):
        return  # `celery flower` stops on this error: no Flower without a login
    in_dotenv = read_dotenv(project.path / ".env").get("FLOWER_BASIC_AUTH")
    if in_dotenv and logins == [s.strip() for s in in_dotenv.split(",")]:
        return  # read from the project's .env: right (and this check cannot unset it)
    expect(logins, "With FLOWER_BASIC_AUTH unset, flowerconfig.py loads and sets no login: "
           "Flower would start open to anyone.",
           "flowerconfig.py to fail when FLOWER_BASIC_AUTH is missing, so Flower never starts "
           "open", 'os.environ["FLOWER_BASIC_AUTH"] raises KeyError when it is unset; '
           'os.environ.get(...) quietly gives None.',
           lesson="#step-2-a-login-for-flower-from-the-environment")
    fail(f"With FLOWER_BASIC_AUTH unset, flowerconfig.py still gave Flower a login "
         f"({_login_users(logins)}): a default written in the file, which anyone who reads "
         "the code knows.", "flowerconfig.py to fail when FLOWER_BASIC_AUTH is missing",
         'Read it with os.environ["FLOWER_BASIC_AUTH"], without a default.',
         lesson="#step-2-a-login-for-flower-from-the-environment")


@needs(test_task_events, test_config_reads_login)
def test_api_needs_login(project, flower, monkeypatch, fake):
    """Flower answers 401 without your login, and with it lists your task as SUCCESS"""
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
           f"FLOWER_BASIC_AUTH: {body[:200]}", "200 and the list of tasks",
           lesson="#step-2-a-login-for-flower-from-the-environment")
    task = flower.task(watched["id"], flower.login)
    state = task.get("state") if task else None
    expect(state == "SUCCESS",
           f"Flower's /api/tasks lists debug_task {watched['id']} with state {state}."
           if task else f"Flower's /api/tasks does not list debug_task {watched['id']}.",
           "the task, with state SUCCESS", lesson="#step-5-the-tasks-page-and-a-tasks-page")
