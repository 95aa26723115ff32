"""Exercise 02 (the feedback email): typical wrong answers."""

from . import DELAY_CALL, EAGER, Right, Wrong

WRONG = [
    Wrong("02", "the task is bound to config's app with @app.task",
          [("feedback/tasks.py", "from celery import shared_task", "from config.celery import app"),
           ("feedback/tasks.py", "@shared_task", "@app.task")],
          "@shared_task", "bound to config's app"),
    Wrong("02", "eager mode is switched on",
          [("config/settings.py", "", EAGER)],
          "eager mode off", "CELERY_TASK_ALWAYS_EAGER is on"),
    Wrong("02", "the task is called directly, without .delay()",
          [("feedback/views.py", "send_feedback_email_task.delay(", "send_feedback_email_task(")],
          "redirects at once", "still sends it itself"),
    Wrong("02", "the view waits for the task's result",
          [("feedback/views.py", DELAY_CALL, DELAY_CALL + ".get(timeout=10)")],
          "redirects at once", "waited for the worker"),
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
]
