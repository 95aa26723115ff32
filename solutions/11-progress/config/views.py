"""Project-wide views."""

from celery.result import AsyncResult
from django.http import JsonResponse


def percent(current, total):
    """Whole percent done, from 0 to 100 (rounded down: 100 only when all is done). A task
    with nothing to do (total 0) is done."""
    if total <= 0:
        return 100
    return max(0, min(100, current * 100 // total))


def task_status(request, task_id):
    """Report a task's state as JSON, read from the result backend; never wait for it.

    PENDING means "no state stored": waiting in the queue for a worker, or an id the backend
    does not know (never sent, or its result expired after result_expires, a day by default).
    Celery cannot tell them apart, so neither does this view: PENDING comes with no progress.
    """
    result = AsyncResult(task_id)
    state = result.state
    data = {"task_id": task_id, "state": state, "result": None}
    if state == "PROGRESS":
        # A custom state's meta is stored where a result would be: result.info. Read it
        # once: each read asks Redis, and the task may finish between two reads.
        info = result.info
        if not isinstance(info, dict):
            info = {}
        current, total = info.get("current", 0), info.get("total", 0)
        data["progress"] = {"current": current, "total": total,
                            "percent": percent(current, total)}
    elif result.successful():
        data["result"] = result.result
        if isinstance(result.result, int) and not isinstance(result.result, bool):
            # A task that returns a count (the rebuild) has done all of it.
            count = result.result
            data["progress"] = {"current": count, "total": count, "percent": 100}
    elif result.failed():
        # The exception's message only: a traceback would show visitors the inside of the code.
        data["error"] = str(result.result)
    return JsonResponse(data)
