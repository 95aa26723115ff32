"""The grading queue on Celery: ``celery -A grader.distributed worker`` runs grading workers.

Start workers on any machine with this repository and its .venv, pointed at the queue:

    GRADER_BROKER_URL=redis://127.0.0.1:6379/11 .venv/bin/celery -A grader.distributed worker -P solo

then ``python -m grader grade SUBMISSIONS --backend celery --broker <the same URL>``. Each worker
process runs one checker at a time (``-P solo``; start more processes for more at once), with
the same fences as the local backend (grader/grade/sandbox.py). Results come back through the
result backend: the same Redis, or RabbitMQ's ``rpc://`` for an amqp:// queue.
"""

from __future__ import annotations

import os

from celery import Celery

from .harness.broker import redact

__all__ = ["app", "make_app", "redact"]

DEFAULT_BROKER = "redis://127.0.0.1:6379/11"


def make_app(broker: str) -> Celery:
    backend = "rpc://" if broker.startswith(("amqp", "pyamqp")) else broker
    grading = Celery("encore-grader", broker=broker, backend=backend)
    grading.conf.update(
        task_serializer="json", result_serializer="json", accept_content=["json"],
        task_default_queue="encore-grading", task_acks_late=True,
        worker_prefetch_multiplier=1, result_expires=24 * 3600,
        broker_connection_retry_on_startup=True, broker_connection_timeout=4,
        worker_hijack_root_logger=False, worker_send_task_events=False,
        broker_transport_options={"visibility_timeout": 3600},
    )
    grading.task(name="encore.grade_run", acks_late=True)(_grade_run)
    return grading


def _grade_run(job: dict, payload: str) -> dict:
    from .grade.remote import run_job
    return run_job(job, payload)


app = make_app(os.environ.get("GRADER_BROKER_URL") or os.environ.get("CELERY_BROKER_URL")
               or DEFAULT_BROKER)
