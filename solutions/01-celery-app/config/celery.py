"""Encore's Celery app. A worker runs it with: celery -A config worker -l info"""

import os

from celery import Celery

# The worker is not started by manage.py, so it must say which settings Django should load.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")

# Every CELERY_* name in Django's settings configures Celery: CELERY_BROKER_URL -> broker_url.
app.config_from_object("django.conf:settings", namespace="CELERY")

# Import tasks.py from every installed app, so the worker knows every task.
app.autodiscover_tasks()


@app.task(bind=True)
def debug_task(self):
    """Print this task's request and return its id: proof that a worker ran it."""
    print(f"Request: {self.request!r}")
    return self.request.id
