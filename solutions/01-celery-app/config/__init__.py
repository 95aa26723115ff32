# Importing the app here makes sure it is loaded whenever Django starts, so that
# @shared_task uses it.
from .celery import app as celery_app

__all__ = ("celery_app",)
