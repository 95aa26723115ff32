"""run_task: a task whose .delay() runs it right here when the broker can't be reached."""

import logging

from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)

# What .delay() raises when Redis is down. The broker: kombu's OperationalError, whatever the
# transport's own error was. The result backend, if it is on the same Redis: its result
# consumer gives up reconnecting with a RuntimeError, before the broker is even tried.
UNREACHABLE = (OperationalError, RuntimeError)


def run_task(task):
    """Make ``task.delay()`` and ``task.apply_async()`` run the task in this process, with a
    warning, when the message cannot be sent. Put it above ``@shared_task``.

    It only helps if sending gives up quickly: see CELERY_TASK_PUBLISH_RETRY_POLICY and the
    timeouts in config/settings.py.
    """
    send = task.apply_async

    def apply_async(args=None, kwargs=None, **options):
        try:
            return send(args, kwargs, **options)
        except UNREACHABLE as exc:
            logger.warning("Celery's broker can't be reached (%s): running %s in this "
                           "process instead.", exc, task.name)
            # Runs the task here and now, and returns its result like .delay() would.
            return task.apply(args, kwargs)

    # On the task itself: .delay() calls apply_async(), and so does every other caller.
    task.apply_async = apply_async
    return task
