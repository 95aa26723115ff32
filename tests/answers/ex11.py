"""Exercise 11 (progress, a progress bar, an email when done): typical wrong answers, and right
ones written differently from the solution."""

from pathlib import Path

from . import Right, Wrong

_SOLUTION = Path(__file__).resolve().parents[2] / "solutions" / "11-progress"
_STARTER = Path(__file__).resolve().parents[2] / "starter_project"

REPORT = '''        self.update_state(state=PROGRESS, meta={"current": current, "total": total})
'''
REBUILD = "        count = rebuild_index(progress=report)\n"
TELL = "    if email_address:\n        _tell(email_address, count)\n"
PERCENT = "current * 100 // total"

# The status view as a class, with its percent rounded to the nearest whole number.
CLASS_STATUS = '''"""Project-wide views."""

from celery import states
from celery.result import AsyncResult
from django.http import JsonResponse
from django.views import View


class TaskStatus(View):
    def get(self, request, task_id):
        result = AsyncResult(task_id)
        answer = {"task_id": task_id, "state": result.state, "result": None}
        if result.state == "PROGRESS":
            done, total = result.info["current"], result.info["total"]
            answer["progress"] = {"current": done, "total": total,
                                  "percent": round(100 * done / total) if total else 100}
        elif result.state == states.SUCCESS:
            answer["result"] = result.result
        elif result.state in (states.FAILURE, states.REVOKED):
            answer["error"] = str(result.result)
        return JsonResponse(answer)


task_status = TaskStatus.as_view()
'''

# The email from a task linked to the rebuild: it gets the count as its first argument.
LINKED_EMAIL = '''

@shared_task
def email_rebuilt(count, email_address):
    send_mail(f"Search index rebuilt: {count} entries", "Done.", None, [email_address])
'''

# Atomic the other way: every write in one transaction, which readers see only once it commits.
ONE_TRANSACTION = '''"""Building the search index, in one transaction."""
import time

from django.conf import settings
from django.db import transaction

from music.models import Album

from .models import SearchEntry


def entry_text(album):
    genres = [str(genre) for genre in album.artist.genres]
    return " ".join([album.title, album.artist.name, *genres])


@transaction.atomic
def rebuild_index(progress=None):
    SearchEntry.objects.all().delete()
    albums = list(Album.objects.select_related("artist").order_by("pk"))
    for current, album in enumerate(albums, start=1):
        time.sleep(settings.SEARCH_INDEX_DELAY)
        SearchEntry.objects.create(album=album, text=entry_text(album))
        if progress is not None:
            progress(current, len(albums))
    return len(albums)
'''

WRONG = [
    Wrong("11", "progress reported only at the end",
          [("search/tasks.py", REBUILD,
            "        count = rebuild_index()\n        report(count, count)\n")],
          "reports state PROGRESS", "only once it was done"),
    Wrong("11", "a state named other than PROGRESS",
          [("search/tasks.py", 'PROGRESS = "PROGRESS"', 'PROGRESS = "IN_PROGRESS"')],
          "reports state PROGRESS", "as state IN_PROGRESS"),
    Wrong("11", "progress meta with other keys",
          [("search/tasks.py", 'meta={"current": current, "total": total}',
            'meta={"done": current, "of": total}')],
          "reports state PROGRESS", "meta was"),
    Wrong("11", "percent by integer division first",
          [("config/views.py", PERCENT, "current // total * 100")],
          'adds "progress"', "multiply first"),
    Wrong("11", "percent as a fraction",
          [("config/views.py", "    return max(0, min(100, current * 100 // total))",
            "    return current / total")],
          'adds "progress"', "fraction between 0 and 1"),
    Wrong("11", "the status view crashes on an unknown id",
          [("config/views.py", '    if state == "PROGRESS":', "    if not result.ready():"),
           ("config/views.py", "        if not isinstance(info, dict):\n            info = {}\n", "")],
          'adds "progress"', "raised AttributeError"),
    Wrong("11", "the index is emptied while it is rebuilt",
          [("search/indexing.py", (_SOLUTION / "search/indexing.py").read_text(),
            (_STARTER / "search/indexing.py").read_text())],
          "index stays whole", "half-built"),
    Wrong("11", "the email is sent before the rebuild",
          [("search/tasks.py", TELL, ""),
           ("search/tasks.py", "    try:\n" + REBUILD,
            "    if email_address:\n        _tell(email_address, SearchEntry.objects.count())\n"
            "    try:\n" + REBUILD),
           ("search/tasks.py", "from .indexing import rebuild_index\n",
            "from .indexing import rebuild_index\nfrom .models import SearchEntry\n")],
          "When done", "sent while the rebuild ran"),
    Wrong("11", "the email goes to a fixed address",
          [("search/tasks.py", "            [email_address],",
            '            ["admin@encore.example"],')],
          "When done", "emails went to admin@encore.example"),
    Wrong("11", "the email's subject has no count",
          [("search/tasks.py", 'f"Search index rebuilt: {count} entries"',
            '"Search index rebuilt"')],
          "When done", "subject was"),
    Wrong("11", "a task without bind=True, through current_task",
          [("search/tasks.py", "@shared_task(bind=True, time_limit=TIME_LIMIT)\n"
            "def rebuild_search_index(self, email_address=None):",
            "@shared_task(time_limit=TIME_LIMIT)\ndef rebuild_search_index(email_address=None):"),
           ("search/tasks.py", "    def report(current, total):",
            "    self = current_task\n\n    def report(current, total):"),
           ("search/tasks.py", "from celery import shared_task",
            "from celery import current_task, shared_task")],
          "is a bound task", "without bind=True"),
    Wrong("11", "a bar that polls for ever",
          [("static/rebuild.js", '  } else if (now > times.giveUp) {\n    stopped("No news of '
            'the rebuild for ten minutes. Reload the page later to see the index.");\n', ""),
           ("static/rebuild.js", '  } else if (answer.state === "PENDING" && now > '
            'times.pendingUntil) {\n', "  } else if (false) {\n")],
          "progress bar", "no time limit"),
    Wrong("11", "a bar without a label",
          [("search/templates/search/rebuild.html",
            '  <label for="rebuild-bar">Rebuild progress</label>\n', "")],
          "progress bar", "no label"),
]

RIGHT = [
    Right("11", "update_state every 10 albums",
          [("search/tasks.py", REPORT, "        if current % 10 == 0 or current == total:\n"
            "    " + REPORT)]),
    Right("11", "update_state at most every 0.2 s",
          [("search/tasks.py", REPORT,
            "        now = time.monotonic()\n"
            "        if now - last[0] >= 0.2 or current == total:\n"
            "            last[0] = now\n    " + REPORT),
           ("search/tasks.py", "    def report(current, total):",
            "    last = [0.0]\n\n    def report(current, total):"),
           ("search/tasks.py", "import logging\n", "import logging\nimport time\n")]),
    Right("11", "update_state at most once a second, the first a second in",
          [("search/tasks.py", REPORT,
            "        now = time.monotonic()\n"
            "        if now - last[0] >= 1 or current == total:\n"
            "            last[0] = now\n    " + REPORT),
           ("search/tasks.py", "    def report(current, total):",
            "    last = [time.monotonic()]\n\n    def report(current, total):"),
           ("search/tasks.py", "import logging\n", "import logging\nimport time\n")]),
    Right("11", "progress meta with extra keys",
          [("search/tasks.py", 'meta={"current": current, "total": total}',
            'meta={"current": current, "total": total, "stage": "indexing"}')]),
    Right("11", "a class-based status view, percent rounded to nearest",
          [("config/views.py", (_SOLUTION / "config/views.py").read_text(), CLASS_STATUS)]),
    Right("11", "the email from a linked task",
          [("search/tasks.py", TELL, ""),
           ("search/tasks.py", 'apply_async(kwargs={"email_address": email_address}, '
            "task_id=task_id)",
            "apply_async(task_id=task_id, link=email_rebuilt.s(email_address) if "
            "email_address else None)"),
           ("search/tasks.py", "", LINKED_EMAIL)]),
    Right("11", "the whole rebuild in one transaction",
          [("search/indexing.py", (_SOLUTION / "search/indexing.py").read_text(),
            ONE_TRANSACTION)]),
]

# The reports replayed once the rebuild is over: several values, all of them too late.
WRONG.append(
    Wrong("11", "progress reported after the work, all at once",
          [("search/tasks.py", REBUILD,
            "        seen = []\n        count = rebuild_index(progress=lambda c, t: "
            "seen.append((c, t)))\n        for current, total in seen:\n"
            "            report(current, total)\n")],
          "reports state PROGRESS", "reports came after the work"))
WRONG.append(
    Wrong("11", "update_state with positional arguments",
          [("search/tasks.py", 'self.update_state(state=PROGRESS, meta={"current": current, '
            '"total": total})', 'self.update_state(PROGRESS, {"current": current, '
            '"total": total})')],
          "reports state PROGRESS", "takes keywords"))
