"""Exercise 03 (task results and the status endpoint): typical wrong answers."""

from . import EAGER, Wrong

WRONG = [
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
