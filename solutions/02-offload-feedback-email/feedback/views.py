from django.shortcuts import redirect, render

from .forms import FeedbackForm
from .tasks import send_feedback_email_task


def feedback_form(request):
    """Show the feedback form; on a valid POST, email the visitor and redirect."""
    if request.method == "POST":
        form = FeedbackForm(request.POST)
        if form.is_valid():
            # .delay() only puts a message on the broker; a worker sends the email later.
            send_feedback_email_task.delay(
                form.cleaned_data["email"], form.cleaned_data["message"]
            )
            return redirect("feedback:thanks")
    else:
        form = FeedbackForm()
    return render(request, "feedback/feedback_form.html", {"form": form})


def thanks(request):
    """Thank the visitor once their feedback is sent."""
    return render(request, "feedback/thanks.html")
