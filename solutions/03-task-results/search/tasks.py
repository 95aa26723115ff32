"""Search tasks."""

from celery import shared_task

from .indexing import rebuild_index


@shared_task
def rebuild_search_index():
    """Rebuild the search index on a worker and return the number of entries.

    What a task returns is stored in the result backend, where /tasks/<id>/ reads it.
    """
    return rebuild_index()
