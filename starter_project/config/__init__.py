# TODO(exercise 01): load the Celery app here, so it is ready whenever Django starts.
