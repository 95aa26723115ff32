"""Exercise 01 (the Celery app): typical wrong answers, and right ones written differently."""

from . import Right, Wrong

_BOUND = ('@app.task(bind=True)\ndef debug_task(self):\n'
          '    """Print this task\'s request and return its id: proof that a worker ran it."""\n'
          '    print(f"Request: {self.request!r}")\n    return self.request.id\n')


def _unbound(returns: str) -> list[tuple[str, str, str]]:
    """debug_task without bind=True, returning its id some other way."""
    return [("config/celery.py", _BOUND,
             f"@app.task\ndef debug_task():\n    return {returns}\n"),
            ("config/celery.py", "from celery import Celery",
             "from celery import Celery, current_task")]


WRONG = [
    Wrong("01", "the broker URL is written into settings.py",
          [("config/settings.py", "CELERY_BROKER_URL = REDIS_URL",
            'CELERY_BROKER_URL = "redis://localhost:6379/0"')],
          "come from REDIS_URL", "This check set REDIS_URL"),
    Wrong("01", "the broker URL is given to Celery(), as Celery's own tutorial does",
          [("config/celery.py", 'app = Celery("config")',
            'app = Celery("config", broker="redis://localhost:6379/0")')],
          "come from REDIS_URL", 'Celery("...", broker=...) in config/celery.py'),
    Wrong("01", "the broker URL is set on app.conf after the settings are read",
          [("config/celery.py", "app.autodiscover_tasks()",
            'app.conf.broker_url = "redis://127.0.0.1:6379/0"\napp.autodiscover_tasks()')],
          "come from REDIS_URL", "app.conf.broker_url = ... in your code"),
    Wrong("01", "the result backend is written into settings.py",
          [("config/settings.py", "CELERY_RESULT_BACKEND = REDIS_URL",
            'CELERY_RESULT_BACKEND = "redis://localhost:6379/1"')],
          "come from REDIS_URL", "CELERY_RESULT_BACKEND to follow REDIS_URL"),
    Wrong("01", "no result backend",
          [("config/settings.py", "CELERY_RESULT_BACKEND = REDIS_URL", "")],
          "come from REDIS_URL", "defines no CELERY_RESULT_BACKEND"),
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
          "debug_task runs on a worker", "bind=True"),
    Wrong("01", "debug_task is not bound and returns current_task.request.id",
          _unbound("current_task.request.id"), "debug_task runs on a worker", "bind=True"),
    Wrong("01", "debug_task is not bound and returns debug_task.request.id",
          _unbound("debug_task.request.id"), "debug_task runs on a worker", "bind=True"),
    Wrong("01", "debug_task throws its result away",
          [("config/celery.py", "@app.task(bind=True)", "@app.task(bind=True, ignore_result=True)")],
          "debug_task runs on a worker", "ignore_result=True"),
    Wrong("01", "eager mode switched on once the worker is ready, after the app was checked",
          [("config/celery.py", "", "\n\nfrom celery.signals import worker_ready\n\n\n"
            "@worker_ready.connect\ndef _run_here(**kwargs):\n"
            "    app.conf.task_always_eager = True\n")],
          "debug_task runs on a worker", "CELERY_TASK_ALWAYS_EAGER"),
    Wrong("01", "eager mode switched on when the task is sent",
          [("config/celery.py", "", "\n\nfrom celery.signals import before_task_publish\n\n\n"
            "@before_task_publish.connect\ndef _run_here(**kwargs):\n"
            "    app.conf.task_always_eager = True\n")],
          "debug_task runs on a worker", "CELERY_TASK_ALWAYS_EAGER"),
    Wrong("01", "debug_task raises on the worker: its traceback is shown",
          [("config/celery.py", "    return self.request.id",
            "    return self.request.id / 0")],
          "debug_task runs on a worker", "Your task config.celery.debug_task raised on the worker"),
    Wrong("01", "the broker and backend are set only under if DEBUG: (off in production)",
          [("config/settings.py", "CELERY_BROKER_URL = REDIS_URL",
            "if DEBUG:\n    CELERY_BROKER_URL = REDIS_URL"),
           ("config/settings.py", "CELERY_RESULT_BACKEND = REDIS_URL",
            "if DEBUG:\n    CELERY_RESULT_BACKEND = REDIS_URL")],
          "come from REDIS_URL", "under a condition"),
    Wrong("01", "the result backend is named without its CELERY_ prefix",
          [("config/settings.py", "CELERY_RESULT_BACKEND = REDIS_URL", "RESULT_BACKEND = REDIS_URL")],
          "come from REDIS_URL", "without the CELERY_ prefix"),
    Wrong("01", "config/__init__.py does not import the app",
          [("config/__init__.py", "from .celery import app as celery_app", "celery_app = None")],
          "exposes the app as celery_app", "has no celery_app"),
]

# A .env that names other brokers: Celery prefers CELERY_BROKER_URL and CELERY_RESULT_BACKEND in
# the environment over any setting, and nothing answers on port 9, so the worker would not
# start if the harness let them through.
_DOTENV = ("CELERY_BROKER_URL=redis://127.0.0.1:9/0\nCELERY_RESULT_BACKEND=redis://127.0.0.1:9/1\n"
           "CELERY_BROKER_WRITE_URL=redis://127.0.0.1:9/2\nREDIS_URL=redis://127.0.0.1:9/3\n"
           "DEBUG=True\n")

RIGHT = [
    Right("01", "a .env that sets CELERY_BROKER_URL does not redirect the checked worker",
          [(".env", "", _DOTENV)]),
    Right("01", "results in another database of the same Redis",
          [("config/settings.py", "CELERY_RESULT_BACKEND = REDIS_URL",
            'CELERY_RESULT_BACKEND = REDIS_URL.rsplit("/", 1)[0] + "/5"')]),
    Right("01", "both settings read the environment themselves",
          [("config/settings.py", "CELERY_BROKER_URL = REDIS_URL",
            'CELERY_BROKER_URL = env("REDIS_URL")'),
           ("config/settings.py", "CELERY_RESULT_BACKEND = REDIS_URL",
            'CELERY_RESULT_BACKEND = env.str("REDIS_URL", default="redis://localhost:6379/0")')]),
    Right("01", "autodiscover_tasks(lambda: settings.INSTALLED_APPS), the settings object, "
          "debug_task as a bound @shared_task",
          [("config/celery.py", "app.autodiscover_tasks()",
            "app.autodiscover_tasks(lambda: settings.INSTALLED_APPS)"),
           ("config/celery.py", 'app.config_from_object("django.conf:settings", namespace="CELERY")',
            'from django.conf import settings  # noqa: E402\n\n'
            'app.config_from_object(settings, namespace="CELERY")'),
           ("config/celery.py", "@app.task(bind=True)", "@shared_task(bind=True)"),
           ("config/celery.py", "from celery import Celery", "from celery import Celery, shared_task")]),
    Right("01", "a task class with its own run method",
          [("config/celery.py", _BOUND,
            "class DebugTask(app.Task):\n    name = \"config.celery.debug_task\"\n\n"
            "    def run(self):\n        return self.request.id\n\n\n"
            "debug_task = app.register_task(DebugTask())\n")]),
]
