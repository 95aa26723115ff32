"""Exercise 03 (task results and the status endpoint): typical wrong answers, and right ones
written differently from the solution."""

from pathlib import Path

from . import EAGER, Right, Wrong, as_package

_SOLUTION = Path(__file__).resolve().parents[2] / "solutions" / "03-task-results"


def _whole(name: str, text: str) -> tuple[str, str, str]:
    """An edit that replaces the whole of solution 03's ``name`` with ``text``."""
    return (name, (_SOLUTION / name).read_text(), text)


# A lock in Django's cache: cache.add() stores the key only if it is absent.
CACHE_LOCK_TASKS = '''"""Search tasks."""

from celery import shared_task
from celery.signals import task_revoked
from celery.utils import uuid
from django.core.cache import cache

from .indexing import rebuild_index

KEY = "search-rebuild-task"


@shared_task(bind=True)
def rebuild_search_index(self):
    try:
        return rebuild_index()
    finally:
        if cache.get(KEY) == self.request.id:
            cache.delete(KEY)


@task_revoked.connect
def forget_revoked(sender=None, request=None, **kwargs):
    if sender.name == rebuild_search_index.name and cache.get(KEY) == request.id:
        cache.delete(KEY)


def start_rebuild():
    task_id = uuid()
    if cache.add(KEY, task_id, timeout=660):
        rebuild_search_index.apply_async(task_id=task_id)
        return task_id
    return cache.get(KEY) or start_rebuild()
'''
REDIS_CACHE = '''
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
    }
}
'''

# No receiver for revokes: a lock whose task has finished (ready()) counts as free.
STALE_LOCK_TASKS = '''"""Search tasks."""
import redis
from celery import shared_task
from celery.result import AsyncResult
from celery.utils import uuid
from django.conf import settings

from .indexing import rebuild_index

KEY = "rebuild-lock"


def _db():
    return redis.Redis.from_url(settings.REDIS_URL)


@shared_task(bind=True)
def rebuild_search_index(self):
    try:
        return rebuild_index()
    finally:
        _db().delete(KEY)


def start_rebuild():
    db = _db()
    for _ in range(5):
        holder = db.get(KEY)
        if holder is not None:
            if not AsyncResult(holder.decode()).ready():
                return holder.decode()
            db.delete(KEY)
        task_id = uuid()
        if db.set(KEY, task_id, nx=True, ex=900):
            rebuild_search_index.apply_async(task_id=task_id)
            return task_id
    raise RuntimeError("no lock")
'''

CLASS_VIEW = '''

class RebuildView(View):
    """The same page, as a class."""

    def get(self, request):
        count = Album.objects.count()
        return render(request, "search/rebuild.html", {
            "album_count": count, "index_size": SearchEntry.objects.count(),
            "estimate": count * settings.SEARCH_INDEX_DELAY})

    def post(self, request):
        task_id = start_rebuild()
        return JsonResponse({"status_url": request.build_absolute_uri(
            reverse("tasks:status", kwargs={"task_id": task_id})), "task_id": task_id},
            status=HTTPStatus.ACCEPTED)


rebuild = RebuildView.as_view()
'''

STATUS_WITH_APP = '''"""Project-wide views."""

from celery import states
from celery.result import AsyncResult
from django.http import JsonResponse

from .celery import app


def task_status(request, task_id):
    result = AsyncResult(task_id, app=app)
    state = result.state
    answer = {"task_id": task_id, "state": state,
              "result": result.result if state == states.SUCCESS else None}
    if state in (states.FAILURE, states.REVOKED):
        answer["error"] = str(result.result) or state.lower()
    return JsonResponse(answer)
'''

# Polls while the state is one of the waiting ones, and at most 600 times.
WHITELIST_JS = '''const form = document.getElementById("rebuild-form");
const out = document.getElementById("rebuild-status");
const button = form.querySelector("button");
let tries = 0;

async function ask(url) {
  tries += 1;
  const response = await fetch(url);
  const answer = response.ok ? await response.json() : {state: "FAILURE", error: "no answer"};
  if (["PENDING", "STARTED", "RETRY"].includes(answer.state) && tries < 600) {
    out.textContent = "Working on it…";
    setTimeout(() => ask(url), 1000);
    return;
  }
  button.disabled = false;
  out.textContent = answer.state === "SUCCESS" ? `Done: ${answer.result} entries.`
    : `Stopped (${answer.error || "cancelled, or no news for ten minutes"}).`;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  button.disabled = true;
  const response = await fetch(window.location.href, {method: "POST", body: new FormData(form)});
  if (response.ok) {
    ask((await response.json()).status_url);
  }
});
'''

POSTRUN_RELEASE = '''

from celery.signals import task_postrun


@task_postrun.connect
def release_finished_rebuild(sender=None, task_id=None, **kwargs):
    if getattr(sender, "name", None) == rebuild_search_index.name:
        release(task_id)
'''

# setInterval, a set of finished states, and a count of polls.
INTERVAL_JS = '''const form = document.querySelector("#rebuild-form");
const line = document.querySelector("#rebuild-status");
const FINISHED = new Set(["SUCCESS", "FAILURE", "REVOKED"]);

form.onsubmit = async (event) => {
  event.preventDefault();
  form.querySelector("button").disabled = true;
  const answer = await fetch("", {method: "POST", body: new FormData(form)});
  if (!answer.ok) { line.textContent = "Could not start."; return; }
  const {status_url} = await answer.json();
  let polls = 0;
  const timer = setInterval(async () => {
    const reply = await fetch(status_url);
    const task = reply.ok ? await reply.json() : {state: "FAILURE", error: "no answer"};
    polls += 1;
    if (FINISHED.has(task.state) || polls >= 300) {
      clearInterval(timer);
      form.querySelector("button").disabled = false;
      line.textContent = task.state === "SUCCESS" ? `Done: ${task.result} entries.` : "Stopped.";
    }
  }, 1000);
};
'''

# Polls again while state === "PENDING" || state === "STARTED"; any other state ends it.
OR_JS = """const form = document.getElementById("rebuild-form");
const statusBox = document.getElementById("rebuild-status");
const MAX_POLLS = 400;

function check(url, polls) {
  fetch(url)
    .then((response) => response.json())
    .then((data) => {
      if ((data.state === "PENDING" || data.state === "STARTED") && polls < MAX_POLLS) {
        statusBox.textContent = "Working… (" + data.state.toLowerCase() + ")";
        setTimeout(() => check(url, polls + 1), 1000);
      } else if (data.state === "SUCCESS") {
        statusBox.textContent = "Done! " + data.result + " entries.";
      } else {
        statusBox.textContent = "Stopped: " + (data.error || data.state);
      }
    })
    .catch(() => { statusBox.textContent = "Lost contact with the server."; });
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  fetch(form.action, { method: "POST", body: new FormData(form) })
    .then((response) => response.json())
    .then((data) => check(data.status_url, 0));
});
"""

# A switch: the waiting cases fall through together, and the default ends the polling.
SWITCH_JS = """const form = document.getElementById("rebuild-form");
const out = document.getElementById("rebuild-status");
const deadline = Date.now() + 5 * 60 * 1000;

async function poll(url) {
  const res = await fetch(url);
  const data = await res.json();
  switch (data.state) {
    case "PENDING":
    case "STARTED":
    case "RETRY":
      if (Date.now() < deadline) {
        out.textContent = "Rebuilding…";
        window.setTimeout(poll, 1500, url);
      } else {
        out.textContent = "Giving up; reload later.";
      }
      break;
    case "SUCCESS":
      out.textContent = `Done: ${data.result} entries`;
      break;
    default:
      out.textContent = `The rebuild did not finish: ${data.error ?? data.state}`;
  }
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const res = await fetch(form.action, {method: "POST", body: new FormData(form)});
  const {status_url: statusUrl} = await res.json();
  poll(statusUrl);
});
"""

# What to show for each finished state, kept as the keys of an object.
KEYED_JS = """const form = document.getElementById("rebuild-form");
const out = document.getElementById("rebuild-status");
const DONE = {
  SUCCESS: (data) => `Done: ${data.result} entries.`,
  FAILURE: (data) => `Failed: ${data.error}`,
  REVOKED: () => "Cancelled.",
};
let attempts = 0;

async function poll(url) {
  attempts++;
  const data = await (await fetch(url)).json();
  if (data.state in DONE) {
    out.textContent = DONE[data.state](data);
  } else if (attempts > 300) {
    out.textContent = "Still running; check back later.";
  } else {
    out.textContent = "Working…";
    setTimeout(() => poll(url), 1000);
  }
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const data = await (await fetch(form.action, {method: "POST", body: new FormData(form)})).json();
  poll(data.status_url);
});
"""

# The waiting states as the keys of an object, tested with `in`.
IN_WAITING_JS = """const form = document.getElementById("rebuild-form");
const out = document.getElementById("rebuild-status");
const WAITING = {PENDING: "Queued…", STARTED: "Rebuilding…", RETRY: "Retrying…"};
const started = Date.now();

async function poll(url) {
  const data = await (await fetch(url)).json();
  if (data.state in WAITING && Date.now() - started < 600000) {
    out.textContent = WAITING[data.state];
    setTimeout(() => poll(url), 1000);
    return;
  }
  out.textContent = data.state === "SUCCESS" ? `Done: ${data.result} entries.` : `Ended: ${data.error || data.state}`;
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const data = await (await fetch(form.action, {method: "POST", body: new FormData(form)})).json();
  poll(data.status_url);
});
"""

# Labels for every state but REVOKED: it polls until SUCCESS or FAILURE, or for ten minutes.
LABELS_JS = """const form = document.getElementById("rebuild-form");
const out = document.getElementById("rebuild-status");
const LABELS = {PENDING: "Queued…", STARTED: "Rebuilding…", SUCCESS: "Done.", FAILURE: "Failed."};
const started = Date.now();

async function poll(url) {
  const data = await (await fetch(url)).json();
  out.textContent = LABELS[data.state] || data.state;
  if (data.state !== "SUCCESS" && data.state !== "FAILURE" && Date.now() - started < 600000) {
    setTimeout(() => poll(url), 1000);
  }
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const data = await (await fetch(form.action, {method: "POST", body: new FormData(form)})).json();
  poll(data.status_url);
});
"""

_MEMORY_LOCK = '''_running = {"id": None}


def start_rebuild():
    """Start a rebuild unless one runs (remembered in this process's memory)."""
    from celery.result import AsyncResult
    if _running["id"] and not AsyncResult(_running["id"]).ready():
        return _running["id"]
    _running["id"] = rebuild_search_index.delay().id
    return _running["id"]


def _unused_start_rebuild():
'''

_ENDS = ('  } else if (answer.state === "FAILURE") {\n    finish(`The rebuild failed: ${answer.error}`);\n'
         '  } else if (answer.state === "REVOKED") {\n'
         '    finish("The rebuild was cancelled before it finished.");\n')

# start_rebuild without its check that the key's rebuild still runs: a key nobody frees stays.
_TRUSTS_THE_KEY = ("search/tasks.py",
                   "        if not rebuild_search_index.AsyncResult(running).ready():\n"
                   "            return running\n", "        return running\n")

WRONG = [
    Wrong("03", "the task does not return the count",
          [("search/tasks.py", "return rebuild_index()", "rebuild_index()")],
          "returns the entry count", "returned None"),
    Wrong("03", "the task ignores its result",
          [("search/tasks.py", "@shared_task(bind=True, time_limit=TIME_LIMIT)",
            "@shared_task(bind=True, time_limit=TIME_LIMIT, ignore_result=True)")],
          "returns the entry count", "ignore_result=True"),
    Wrong("03", "the status endpoint leaks the traceback",
          [("config/views.py", 'data["error"] = str(result.result)',
            'data["error"] = result.traceback')],
          "never a traceback", "Python traceback"),
    Wrong("03", "the status endpoint waits for the task",
          [("config/views.py", "    result = AsyncResult(task_id)\n",
            "    result = AsyncResult(task_id)\n    result.get(timeout=30, propagate=False)\n")],
          "reports the state", "it waited for the task"),
    Wrong("03", "the view waits for the result",
          [("search/views.py", "        task_id = start_rebuild()\n",
            "        task_id = start_rebuild()\n"
            "        AsyncResult(task_id).get(timeout=30)\n"),
           ("search/views.py", "from django.conf import settings\n",
            "from celery.result import AsyncResult\nfrom django.conf import settings\n")],
          "answers 202 at once", "waited for its result"),
    Wrong("03", "the view answers 200 instead of 202",
          [("search/views.py", "status=202)", "status=200)")],
          "answers 202 at once", "status is 200"),
    Wrong("03", "eager mode is switched on",
          [("config/settings.py", "", EAGER)],
          "eager mode off", "CELERY_TASK_ALWAYS_EAGER is on"),
    Wrong("03", "a rebuild without a lock",
          [("search/views.py", "from .tasks import start_rebuild",
            "from .tasks import rebuild_search_index"),
           ("search/views.py", "task_id = start_rebuild()",
            "task_id = rebuild_search_index.delay().id")],
          "While a rebuild runs", "started 2 rebuilds"),
    Wrong("03", "a lock that is never released",
          [("search/tasks.py", "        release(self.request.id)\n", "        pass\n"),
           _TRUSTS_THE_KEY],
          "While a rebuild runs", "the lock is never released"),
    Wrong("03", "a lock released when the task begins",
          [("search/tasks.py", "    try:\n        return rebuild_index()\n    finally:\n"
            "        # Success or failure, this rebuild no longer runs.\n"
            "        release(self.request.id)\n",
            "    release(self.request.id)\n    return rebuild_index()\n")],
          "While a rebuild runs", "when the task began"),
    Wrong("03", "a lock that never expires",
          [("search/tasks.py", "nx=True, ex=LOCK_EXPIRES)", "nx=True)")],
          "While a rebuild runs", "has no expiry"),
    Wrong("03", "a lock that expires after a few seconds",
          [("search/tasks.py", "nx=True, ex=LOCK_EXPIRES)", "nx=True, ex=5)")],
          "While a rebuild runs", "expires after"),
    Wrong("03", "a lock in the local-memory cache",
          [_whole("search/tasks.py", CACHE_LOCK_TASKS)],
          "While a rebuild runs", "local-memory cache"),
    Wrong("03", "a revoked rebuild keeps the lock",
          [("search/tasks.py", "@task_revoked.connect\n", ""),
           _TRUSTS_THE_KEY],
          "A revoked rebuild", "revoked before it starts never runs"),
    Wrong("03", "the status endpoint crashes on a revoked task",
          [("config/views.py", "    if result.successful():",
            "    if result.ready() and not result.failed():")],
          "A revoked rebuild", "raised TypeError"),
    Wrong("03", "polling that never stops on REVOKED",
          [("static/rebuild.js", '  } else if (answer.state === "REVOKED") {\n'
            '    finish("The rebuild was cancelled before it finished.");\n', "")],
          "stops polling", "never mentions REVOKED"),
    Wrong("03", "polling that never stops on FAILURE",
          [("static/rebuild.js", '  } else if (answer.state === "FAILURE") {\n'
            '    finish(`The rebuild failed: ${answer.error}`);\n', "")],
          "stops polling", "never mentions FAILURE"),
    Wrong("03", "a lock kept in a module variable of the web process",
          [("search/tasks.py", "def start_rebuild():\n", _MEMORY_LOCK),
           ("search/tasks.py", "        release(self.request.id)\n", "        pass\n"),
           ("search/tasks.py", "        release(request.id)\n", "        pass\n")],
          "While a rebuild runs", "search.tasks._running, a variable of this web process"),
    Wrong("03", "labels keyed by state, and polling until SUCCESS or FAILURE",
          [_whole("static/rebuild.js", LABELS_JS)],
          "stops polling", "never mentions REVOKED"),
    Wrong("03", "polling without a bound",
          [("static/rebuild.js", '  } else if (Date.now() > deadline) {\n    finish("No news of '
            'the rebuild for ten minutes. Reload the page later to see the index.");\n', "")],
          "stops polling", "no time limit"),
]

RIGHT = [
    Right("03", "no revoke receiver: the next POST frees the key of a finished rebuild",
          [("search/tasks.py", "@task_revoked.connect\n", "")]),
    Right("03", "no release in the task: the next POST frees the key of a finished rebuild",
          [("search/tasks.py", "        release(self.request.id)\n", "        pass\n")]),
    Right("03", "a cache.add lock on a Redis cache",
          [_whole("search/tasks.py", CACHE_LOCK_TASKS),
           ("config/settings.py", "", REDIS_CACHE)]),
    Right("03", "a Redis lock that frees a finished holder",
          [_whole("search/tasks.py", STALE_LOCK_TASKS)]),
    Right("03", "a class-based view and an absolute status URL",
          [("search/views.py", "", CLASS_VIEW),
           ("search/views.py", "from django.conf import settings\n",
            "from http import HTTPStatus\n\nfrom django.conf import settings\n"),
           ("search/views.py", "from django.urls import reverse\n",
            "from django.urls import reverse\nfrom django.views import View\n")]),
    Right("03", "a status view with AsyncResult(..., app=app)",
          [_whole("config/views.py", STATUS_WITH_APP)]),
    Right("03", "the lock released by a task_postrun receiver",
          [("search/tasks.py", "    try:\n        return rebuild_index()\n    finally:\n"
            "        # Success or failure, this rebuild no longer runs.\n"
            "        release(self.request.id)\n", "    return rebuild_index()\n"),
           ("search/tasks.py", "", POSTRUN_RELEASE)]),
    Right("03", "polling with setInterval and a set of finished states",
          [_whole("static/rebuild.js", INTERVAL_JS)]),
    Right("03", "polling that stops on a true/false field of the status JSON",
          [("config/views.py", '"result": None}', '"result": None, "ready": result.ready()}'),
           ("static/rebuild.js", _ENDS, "  } else if (answer.ready) {\n"
            "    finish(`The rebuild ended: ${answer.error || answer.state}`);\n")]),
    Right("03", "polling that goes on only while the state is not PENDING, STARTED or RETRY",
          [("static/rebuild.js", _ENDS, '  } else if (answer.state !== "PENDING" && answer.state '
            '!== "STARTED" && answer.state !== "RETRY") {\n'
            "    finish(`The rebuild ended: ${answer.error || answer.state}`);\n")]),
    Right("03", "polling that waits only on listed states, for at most 600 polls",
          [_whole("static/rebuild.js", WHITELIST_JS)]),
    Right("03", "polling again while state === \"PENDING\" || state === \"STARTED\", .then() chains",
          [_whole("static/rebuild.js", OR_JS)]),
    Right("03", "a switch whose waiting cases fall through, and a default that stops",
          [_whole("static/rebuild.js", SWITCH_JS)]),
    Right("03", "the finished states as keys of an object of messages",
          [_whole("static/rebuild.js", KEYED_JS)]),
    Right("03", "the waiting states as keys of an object, tested with `in`",
          [_whole("static/rebuild.js", IN_WAITING_JS)]),
    Right("03", "search/tasks/ as a package: the task is search.tasks.rebuild.rebuild_search_index",
          as_package("03-task-results", "search", "rebuild")),
]
