"""Project-wide views."""

from celery.result import AsyncResult
from django.http import JsonResponse


def task_status(request, task_id):
    """Report a task's state as JSON, read from the result backend; never wait for it.

    PENDING means "no result stored": still waiting, or an id the backend does not know
    (never sent, or its result expired after result_expires, a day by default).
    """
    result = AsyncResult(task_id)
    data = {"task_id": task_id, "state": result.state, "result": None}
    if result.successful():
        data["result"] = result.result
    elif result.failed():
        # The exception's message only: a traceback would show visitors the inside of the code.
        data["error"] = str(result.result)
    return JsonResponse(data)
