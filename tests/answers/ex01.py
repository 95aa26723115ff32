"""Exercise 01 (the Celery app): typical wrong answers."""

from . import Wrong

WRONG = [
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
]
