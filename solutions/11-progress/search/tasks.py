"""Search tasks, and the lock that lets one rebuild run at a time."""

import functools
import logging
import smtplib

import redis
from celery import shared_task
from celery.signals import task_revoked
from celery.utils import uuid
from django.conf import settings
from django.core.mail import send_mail

from .indexing import rebuild_index

logger = logging.getLogger(__name__)

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
# Not one of Celery's states: any name works, as long as the status view and the page agree.
PROGRESS = "PROGRESS"


@functools.cache
def _redis():
    """One client for the process: it keeps its connections open and reuses them."""
    return redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)


def start_rebuild(email_address=None):
    """Start a rebuild unless one runs, and return the id of the rebuild that runs.

    Only the visitor who starts a rebuild is emailed when it is done: a click while it runs
    joins the running rebuild without an email.
    """
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
    rebuild_search_index.apply_async(kwargs={"email_address": email_address}, task_id=task_id)
    return task_id


def release(task_id):
    """Let the next rebuild start, unless the key already belongs to another one."""
    _redis().eval(RELEASE, 1, LOCK, task_id)


@shared_task(bind=True, time_limit=TIME_LIMIT)
def rebuild_search_index(self, email_address=None):
    """Rebuild the search index on a worker, reporting how far it is, and return the number
    of entries. If given, email_address is told when the rebuild is done.

    bind=True makes the task its own first argument: self.update_state stores a state for
    this task's id, which /tasks/<id>/ reads while the rebuild goes on.
    """

    def report(current, total):
        # One small write to the result backend per album: cheap at SEARCH_INDEX_DELAY per
        # album. For thousands of items a second, report every N items instead.
        self.update_state(state=PROGRESS, meta={"current": current, "total": total})

    try:
        count = rebuild_index(progress=report)
    finally:
        # Success or failure, this rebuild no longer runs.
        release(self.request.id)
    if email_address:
        _tell(email_address, count)
    return count


def _tell(email_address, count):
    """Email the visitor who asked for the rebuild; a mail server that fails loses the
    email, not the rebuild, which is already done."""
    try:
        send_mail(
            f"Search index rebuilt: {count} entries",
            f"The search index now holds {count} entries, one per album.",
            None,  # DEFAULT_FROM_EMAIL
            [email_address],
        )
    except (smtplib.SMTPException, OSError):
        logger.exception("Could not email %s that the rebuild is done", email_address)


@task_revoked.connect
def release_revoked_rebuild(sender=None, request=None, **kwargs):
    """A rebuild revoked before it began never runs its finally: release its key here."""
    if getattr(sender, "name", None) == rebuild_search_index.name:
        release(request.id)
