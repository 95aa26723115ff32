"""Search tasks, and the lock that lets one rebuild run at a time."""

import functools

import redis
from celery import shared_task
from celery.signals import task_revoked
from celery.utils import uuid
from django.conf import settings

from .indexing import rebuild_index

# The worker stops a rebuild that runs longer than this (seconds): 1200 albums at 0.5 s each.
TIME_LIMIT = 10 * 60
# The Redis key that holds the running rebuild's task id. It lives in Redis, so every web
# process and every worker sees the same one.
LOCK = "encore:search-rebuild"
# A worker that dies mid-rebuild never deletes the key: Redis does, after this many seconds.
LOCK_EXPIRES = TIME_LIMIT + 60
# Delete the key only if it still holds this task's id, in one step (a Lua script runs alone).
RELEASE = """
if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end
return 0
"""


@functools.cache
def _redis():
    """One client for the process: it keeps its connections open and reuses them."""
    return redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)


def start_rebuild():
    """Start a rebuild unless one runs, and return the id of the rebuild that runs."""
    task_id = uuid()
    connection = _redis()
    # SET ... NX sets the key only if nobody holds it: of two requests, exactly one wins.
    while not connection.set(LOCK, task_id, nx=True, ex=LOCK_EXPIRES):
        running = connection.get(LOCK)
        if running is None:
            continue  # The running rebuild ended between the two commands: try again.
        if not rebuild_search_index.AsyncResult(running).ready():
            return running
        # That rebuild has finished but kept the key (a worker running older code, or one
        # that did not know the task): free the key, then try to take it.
        release(running)
    rebuild_search_index.apply_async(task_id=task_id)
    return task_id


def release(task_id):
    """Let the next rebuild start, unless the key already belongs to another one."""
    _redis().eval(RELEASE, 1, LOCK, task_id)


@shared_task(bind=True, time_limit=TIME_LIMIT)
def rebuild_search_index(self):
    """Rebuild the search index on a worker and return the number of entries.

    What a task returns is stored in the result backend, where /tasks/<id>/ reads it.
    """
    try:
        return rebuild_index()
    finally:
        # Success or failure, this rebuild no longer runs.
        release(self.request.id)


@task_revoked.connect
def release_revoked_rebuild(sender=None, request=None, **kwargs):
    """A rebuild revoked before it began never runs its finally: release its key here."""
    if getattr(sender, "name", None) == rebuild_search_index.name:
        release(request.id)
