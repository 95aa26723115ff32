from django import forms


class FeedbackForm(forms.Form):
    email = forms.EmailField(
        label="Your email address",
        help_text="We send a copy of your message here.",
    )
    message = forms.CharField(
        label="Your message",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
