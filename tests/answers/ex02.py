"""Exercise 02 (the feedback email): typical wrong answers."""

from . import DELAY_CALL, EAGER, Right, Wrong

TASK_BODY = "    send_feedback_email(email_address, message)\n"

WRONG = [
    Wrong("02", "the task is bound to config's app with @app.task",
          [("feedback/tasks.py", "from celery import shared_task", "from config.celery import app"),
           ("feedback/tasks.py", "@shared_task(ignore_result=True)", "@app.task")],
          "@shared_task", "bound to config's app"),
    Wrong("02", "eager mode is switched on",
          [("config/settings.py", "", EAGER)],
          "eager mode off", "CELERY_TASK_ALWAYS_EAGER is on"),
    Wrong("02", "the task is called directly, without .delay()",
          [("feedback/views.py", "send_feedback_email_task.delay(", "send_feedback_email_task(")],
          "redirects at once", "still sends it itself"),
    Wrong("02", "the view waits for the task's result",
          [("feedback/tasks.py", "@shared_task(ignore_result=True)", "@shared_task"),
           ("feedback/views.py", DELAY_CALL, DELAY_CALL + ".get(timeout=10)")],
          "redirects at once", "waited for the worker"),
    Wrong("02", "the view waits a short while for the task's result",
          [("feedback/tasks.py", "@shared_task(ignore_result=True)", "@shared_task"),
           ("feedback/views.py", DELAY_CALL, DELAY_CALL + ".get(timeout=0.3)")],
          "redirects at once", "waited"),
    Wrong("02", "the task is enqueued before the form is validated",
          [("feedback/views.py", "        form = FeedbackForm(request.POST)\n",
            "        form = FeedbackForm(request.POST)\n        send_feedback_email_task.delay("
            "request.POST.get('email'), request.POST.get('message'))\n"),
           ("feedback/views.py", DELAY_CALL, "pass")],
          "enqueues nothing", "for a form that is not valid"),
    Wrong("02", "the task sends the email to the wrong address",
          [("feedback/tasks.py", "send_feedback_email(email_address, message)",
            'send_feedback_email("admin@encore.example", message)')],
          "Exactly one email arrives", "to go to the address in the form"),
    Wrong("02", "send_task with a misspelt task name",
          [("feedback/views.py", DELAY_CALL,
            'send_feedback_email_task.app.send_task("feedback.tasks.send_feedback_email", '
            'args=[form.cleaned_data["email"], form.cleaned_data["message"]])')],
          "redirects at once", "Received unregistered task"),
    Wrong("02", "the task raises on the worker",
          [("feedback/tasks.py", TASK_BODY, "    send_feedback_email(message=message)\n")],
          "Exactly one email arrives", "raised TypeError"),
    Wrong("02", "the task sends nothing",
          [("feedback/tasks.py", TASK_BODY, "    return email_address\n")],
          "Exactly one email arrives", "sent nothing"),
    Wrong("02", "the task sends the email twice",
          [("feedback/tasks.py", TASK_BODY, TASK_BODY * 2)],
          "Exactly one email arrives", "2 emails arrived"),
    Wrong("02", "a thread the view starts sends the email; the task does nothing",
          [("feedback/tasks.py", TASK_BODY, "    pass\n"),
           ("feedback/views.py", DELAY_CALL, DELAY_CALL + "\n            __import__('threading')"
            ".Thread(target=__import__('feedback.emails').emails.send_feedback_email, "
            'args=(form.cleaned_data["email"], form.cleaned_data["message"])).start()')],
          "Exactly one email arrives", "from a thread the request started"),
    Wrong("02", "the view runs the task in the request with .apply()",
          [("feedback/views.py", DELAY_CALL, 'send_feedback_email_task.apply(args=('
            'form.cleaned_data["email"], form.cleaned_data["message"]))')],
          "redirects at once", "its .apply()"),
    Wrong("02", "a plain function given a .delay of its own that calls it",
          [("feedback/tasks.py", "@shared_task(ignore_result=True)\n", ""),
           ("feedback/tasks.py", "", "\nsend_feedback_email_task.delay = send_feedback_email_task\n")],
          "defines the task", "not a Celery task"),
    Wrong("02", "the view enqueues with a countdown, so the email waits",
          [("feedback/views.py", DELAY_CALL, 'send_feedback_email_task.apply_async(args=('
            'form.cleaned_data["email"], form.cleaned_data["message"]), countdown=60)')],
          "Exactly one email arrives", "to run later"),
    Wrong("02", "the view enqueues the task twice",
          [("feedback/views.py", DELAY_CALL, DELAY_CALL + "\n            " + DELAY_CALL)],
          "redirects at once", "published 2 send_feedback_email_task messages"),
]

RIGHT = [
    Right("02", "apply_async with keyword arguments instead of delay",
          [("feedback/views.py", DELAY_CALL,
            'send_feedback_email_task.apply_async(kwargs={"email_address": '
            'form.cleaned_data["email"], "message": form.cleaned_data["message"]})')]),
    Right("02", "a class-based FormView",
          [("feedback/views.py", "def thanks(request):", '''class FeedbackFormView(FormView):
    template_name = "feedback/feedback_form.html"
    form_class = FeedbackForm
    success_url = reverse_lazy("feedback:thanks")

    def form_valid(self, form):
        send_feedback_email_task.delay(form.cleaned_data["email"], form.cleaned_data["message"])
        return super().form_valid(form)


feedback_form = FeedbackFormView.as_view()


def thanks(request):'''),
           ("feedback/views.py", "from django.shortcuts import redirect, render\n",
            "from django.shortcuts import redirect, render\nfrom django.urls import reverse_lazy\n"
            "from django.views.generic import FormView\n")]),
    Right("02", "send_task by name, a 303 with a query string, a task that keeps its result",
          [("feedback/tasks.py", "@shared_task(ignore_result=True)", "@shared_task"),
           ("feedback/views.py", DELAY_CALL,
            'current_app.send_task("feedback.tasks.send_feedback_email_task", '
            'args=(form.cleaned_data["email"], form.cleaned_data["message"]))'),
           ("feedback/views.py", 'return redirect("feedback:thanks")',
            'return HttpResponseRedirect(reverse("feedback:thanks") + "?sent=1", status=303)'),
           ("feedback/views.py", "from django.shortcuts import redirect, render\n",
            "from celery import current_app\nfrom django.http import HttpResponseRedirect\n"
            "from django.shortcuts import redirect, render\nfrom django.urls import reverse\n")]),
    Right("02", "a signature sent with .s(...).delay(), and a redirect to a path",
          [("feedback/views.py", DELAY_CALL, 'send_feedback_email_task.s(form.cleaned_data['
            '"email"], form.cleaned_data["message"]).delay()'),
           ("feedback/views.py", 'return redirect("feedback:thanks")',
            'return redirect("/feedback/thanks/")')]),
    Right("02", "delay_on_commit, and a keyword argument",
          [("feedback/views.py", DELAY_CALL,
            'send_feedback_email_task.delay_on_commit(form.cleaned_data["email"], '
            'message=form.cleaned_data["message"])')]),
]
