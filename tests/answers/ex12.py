"""Exercise 12 (run_task: run here, with a warning, when Redis is down): typical answers."""

from . import Right, Wrong

RUN_HERE = "            return task.apply(args, kwargs)\n"
SEND = "            return send(args, kwargs, **options)\n"
WARNING = ('            logger.warning("Celery\'s broker can\'t be reached (%s): running %s in this "\n'
           '                           "process instead.", exc, task.name)\n')
CATCH = "UNREACHABLE = (OperationalError, RuntimeError)"
BOUNDS = '''CELERY_BROKER_TRANSPORT_OPTIONS["socket_connect_timeout"] = 0.5  # beside lesson 10\'s options
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
'''
RESULT_BOUNDS = '''CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 0.5
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"retry_policy": {"max_retries": 0}}
'''

WRONG = [
    Wrong("12", "the fallback swallows the error and runs nothing",
          [("config/tasks.py", RUN_HERE, "            return None\n")],
          "broker unreachable", "the failure was swallowed"),
    Wrong("12", "the task always runs here, even with the broker up",
          [("config/tasks.py", SEND, RUN_HERE)],
          "With the broker up", "the fallback runs every time"),
    Wrong("12", "runs here and sends it as well, every time",
          [("config/tasks.py", SEND, "            task.apply(args, kwargs)\n" + SEND)],
          "With the broker up", "sent it to the broker as well"),
    Wrong("12", "no bounds on sending: Celery's default retries and no connect timeout",
          [("config/settings.py", BOUNDS, ""), ("config/settings.py", RESULT_BOUNDS, "")],
          "broker unreachable", "had not returned after"),
    Wrong("12", "task_publish_retry=False instead of a retry policy",
          [("config/settings.py", BOUNDS,
            'CELERY_BROKER_TRANSPORT_OPTIONS["socket_connect_timeout"] = 0.5\n'
            "CELERY_TASK_PUBLISH_RETRY = False\n")],
          "broker unreachable", "CELERY_TASK_PUBLISH_RETRY_POLICY"),
    Wrong("12", "broker_connection_timeout, which Redis ignores, instead of socket_connect_timeout",
          [("config/settings.py", 'CELERY_BROKER_TRANSPORT_OPTIONS["socket_connect_timeout"] = 0.5',
            "CELERY_BROKER_CONNECTION_TIMEOUT = 0.5  #")],
          "broker unreachable", "socket_connect_timeout"),
    Wrong("12", "logged at INFO",
          [("config/tasks.py", "logger.warning(", "logger.info(")],
          "broker unreachable", "logged at INFO"),
    Wrong("12", "printed instead of logged",
          [("config/tasks.py", "logger.warning(", "print(")],
          "broker unreachable", "it was printed"),
    Wrong("12", "a warning that does not name the task",
          [("config/tasks.py", WARNING,
            '            logger.warning("The broker is down (%s): running the task here.", exc)\n')],
          "broker unreachable", "does not name the task"),
    Wrong("12", "warnings.warn() instead of a log",
          [("config/tasks.py", WARNING, "            import warnings\n\n"
            '            warnings.warn(f"Redis is down: running {task.name} here")\n')],
          "With the broker unreachable", "it went to warnings.warn()"),
    Wrong("12", "the fallback calls .delay() again, which calls the fallback again",
          [("config/tasks.py", RUN_HERE,
            "            return task.delay(*(args or ()), **(kwargs or {}))\n")],
          "With the broker unreachable", "The fallback calls itself"),
    Wrong("12", "catches redis-py's ConnectionError, which kombu turns into OperationalError",
          [("config/tasks.py", CATCH, "UNREACHABLE = (redis.exceptions.ConnectionError,)"),
           ("config/tasks.py", "import logging\n", "import logging\n\nimport redis\n")],
          "broker unreachable", "kombu.exceptions.OperationalError"),
    Wrong("12", "catches OperationalError only: the result backend's RuntimeError escapes",
          [("config/tasks.py", CATCH, "UNREACHABLE = (OperationalError,)")],
          "all of Redis unreachable", "builtins.RuntimeError"),
    Wrong("12", "bounds the broker, not the result backend on the same Redis",
          [("config/settings.py", RESULT_BOUNDS, "")],
          "all of Redis unreachable", "had not returned after"),
]

CLASS = '''

class run_task:  # noqa: N801 - replaces the function above
    """Wraps a task: same task, a .delay() that falls back to running here."""

    def __init__(self, task):
        self.task = task

    def __getattr__(self, name):
        return getattr(self.task, name)

    def __call__(self, *args, **kwargs):
        return self.task(*args, **kwargs)

    def delay(self, *args, **kwargs):
        return self.apply_async(args, kwargs)

    def apply_async(self, args=None, kwargs=None, **options):
        try:
            return self.task.apply_async(args, kwargs, **options)
        except Exception as exc:
            logger.warning("Sending %s failed (%r); running it synchronously", self.task.name, exc)
            return self.task.apply(args, kwargs)
'''

RIGHT = [
    Right("12", "a wrapper class that catches Exception and patches only its own delay",
          [("config/tasks.py", "", CLASS)]),
    Right("12", "other bounds: a 0.3 s connect timeout and two quick publish retries",
          [("config/settings.py", BOUNDS,
            'CELERY_BROKER_TRANSPORT_OPTIONS.update(socket_connect_timeout=0.3, socket_timeout=2)\n'
            'CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0.1,\n'
            '                                    "interval_step": 0.1, "interval_max": 0.2}\n'),
           ("config/settings.py", RESULT_BOUNDS,
            "CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 0.3\nCELERY_REDIS_SOCKET_TIMEOUT = 2\n"
            'CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"retry_policy": {"max_retries": 1}}\n')]),
    Right("12", "the warning names the task by its function name, through the task's logger",
          [("config/tasks.py", WARNING,
            '            logging.getLogger("encore.fallback").warning(\n'
            '                "Redis unreachable, %s runs in the web process", task.name.rsplit(".", 1)[-1])\n')]),
]
