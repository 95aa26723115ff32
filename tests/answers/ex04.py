"""Exercise 04 (genres fetched on a worker, by artist id): typical wrong answers."""

from . import Right, Wrong, as_package

DELAY = "fetch_spotify_genres.delay_on_commit(artist.pk)"
SAVE = ("    Artist.objects.filter(pk=artist_id, spotify_playlist_url=playlist_url)"
        ".update(genres=genres)\n")
ATOMIC = '\nDATABASES["default"]["ATOMIC_REQUESTS"] = True\n'

WRONG = [
    Wrong("04", "the task is bound to config's app with @app.task",
          [("music/tasks.py", "@shared_task(ignore_result=True)\ndef fetch_spotify_genres(", "@app.task(ignore_result=True)\ndef fetch_spotify_genres("),
           ("music/tasks.py", "from celery import shared_task\n",
            "from celery import shared_task\n\nfrom config.celery import app\n")],
          "is a @shared_task", "bound to config's app"),
    Wrong("04", "the view passes the Artist instance",
          [("music/views.py", DELAY, "fetch_spotify_genres.delay(artist)")],
          "redirects at once", "Object of type Artist is not JSON serializable"),
    Wrong("04", "send_task with a misspelt task name",
          [("music/views.py", DELAY, 'fetch_spotify_genres.app.send_task('
            '"music.tasks.fetch_genres", args=[artist.pk])')],
          "redirects at once", "Received unregistered task"),
    Wrong("04", "delay() inside the request's transaction (ATOMIC_REQUESTS)",
          [("music/views.py", DELAY, "fetch_spotify_genres.delay(artist.pk)"),
           ("config/settings.py", "", ATOMIC)],
          "redirects at once", "transaction (ATOMIC_REQUESTS) was still open"),
    Wrong("04", "the task also takes the playlist URL",
          [("music/views.py", DELAY,
            "fetch_spotify_genres.delay(artist.pk, artist.spotify_playlist_url)"),
           ("music/tasks.py", "def fetch_spotify_genres(artist_id):",
            "def fetch_spotify_genres(artist_id, playlist_url=None):")],
          "its only argument is the artist's id", "the task was called with"),
    Wrong("04", "the task is enqueued before the artist is saved (form.save(commit=False))",
          [("music/views.py", "            artist = form.save()\n",
            "            artist = form.save(commit=False)\n            if artist.spotify_playlist_url:\n"
            "                fetch_spotify_genres.delay(artist.pk)\n            artist.save()\n"),
           ("music/views.py", "                fetch_spotify_genres.delay_on_commit(artist.pk)\n", "")],
          "its only argument is the artist's id", "the artist had no id yet"),
    Wrong("04", "the task raises on the worker",
          [("music/tasks.py", "    artist = Artist.objects.filter(pk=artist_id).first()\n",
            "    artist = Artist.objects.get(id=artist_id, name=artist_id)\n")],
          "stores the playlist's genres", "raised"),
    Wrong("04", "pickle is switched on so that the instance passes",
          [("music/views.py", DELAY, "fetch_spotify_genres.delay(artist)"),
           ("config/settings.py", 'CELERY_TASK_SERIALIZER = "json"',
            'CELERY_TASK_SERIALIZER = "pickle"'),
           ("config/settings.py", 'CELERY_ACCEPT_CONTENT = ["json"]',
            'CELERY_ACCEPT_CONTENT = ["json", "pickle"]')],
          "Only JSON is accepted", "unpickling runs whatever code"),
    Wrong("04", "the worker accepts pickle",
          [("config/settings.py", 'CELERY_ACCEPT_CONTENT = ["json"]',
            'CELERY_ACCEPT_CONTENT = ["json", "pickle"]')],
          "refuses a pickle message", "unpickled it and ran the task"),
    Wrong("04", "the view still calls the playlist API as well",
          [("music/views.py", f"                {DELAY}\n",
            f"                {DELAY}\n                artist.genres = __import__("
            '"music.spotify").spotify.fetch_playlist_genres(artist.spotify_playlist_url)\n'
            '                artist.save(update_fields=["genres"])\n')],
          "redirects at once", "the view waited for the playlist API"),
    Wrong("04", "the view calls the playlist API instead of the task",
          [("music/views.py", DELAY, "__import__('music.spotify').spotify."
            "fetch_playlist_genres(artist.spotify_playlist_url)")],
          "redirects at once", "still calls the playlist API"),
    Wrong("04", "the task is enqueued even without a playlist URL",
          [("music/views.py", "            if artist.spotify_playlist_url:\n",
            "            if True:\n")],
          "enqueues nothing", "who gave no playlist URL"),
    Wrong("04", "the task does not save the genres",
          [("music/tasks.py", SAVE, "")],
          "stores the playlist's genres", "genres in the database are []"),
    Wrong("04", "the task saves the genres on the newest artist",
          [("music/tasks.py", SAVE, "    newest = Artist.objects.latest(\"joined_at\")\n"
            "    newest.genres = genres\n    newest.save()\n")],
          "stores the playlist's genres", "got them"),
    Wrong("04", "the task saves the genres on every artist",
          [("music/tasks.py", SAVE, "    Artist.objects.update(genres=genres)\n")],
          "stores the playlist's genres", "and so did"),
]

# Registration as a class-based view, in place of the solution's function.
CREATE_VIEW = """class RegisterView(CreateView):
    form_class = ArtistForm
    template_name = "music/register.html"
    success_url = reverse_lazy("music:artist_list")

    def form_valid(self, form):
        response = super().form_valid(form)
        artist = self.object
        if artist.spotify_playlist_url:
            transaction.on_commit(lambda: fetch_spotify_genres.apply_async(args=[artist.pk]))
        return response


register = RegisterView.as_view()


"""

RIGHT = [
    Right("04", "apply_async with the id as a keyword argument",
          [("music/views.py", DELAY,
            'fetch_spotify_genres.apply_async(kwargs={"artist_id": artist.pk})')]),
    Right("04", "delay instead of delay_on_commit (Django's autocommit)",
          [("music/views.py", DELAY, "fetch_spotify_genres.delay(artist.pk)")]),
    Right("04", "the id as a string, through send_task, and a 303 with a query string",
          [("music/views.py", DELAY, 'current_app.send_task("music.tasks.fetch_spotify_genres", '
            "args=[str(artist.pk)])"),
           ("music/views.py", '            return redirect("music:artist_list")\n    else:',
            '            return HttpResponseRedirect(reverse("music:artist_list") + "?new=1", '
            "status=303)\n    else:"),
           ("music/views.py", "from django.contrib import messages\n",
            "from celery import current_app\nfrom django.contrib import messages\n"
            "from django.http import HttpResponseRedirect\nfrom django.urls import reverse\n")]),
    Right("04", "ATOMIC_REQUESTS on, with delay_on_commit",
          [("config/settings.py", "", ATOMIC)]),
    Right("04", "the task saves the artist with update_fields, and has no settings of its own",
          [("music/tasks.py", SAVE, "    artist.genres = genres\n"
            '    artist.save(update_fields=["genres"])\n'),
           ("config/settings.py", 'CELERY_TASK_SERIALIZER = "json"\n', ""),
           ("config/settings.py", 'CELERY_RESULT_SERIALIZER = "json"\n', ""),
           ("config/settings.py", 'CELERY_ACCEPT_CONTENT = ["json"]\n', "")]),
    Right("04", "a class-based CreateView that enqueues after the commit with apply_async",
          # The solution's function-based view stays, renamed and unused.
          [("music/views.py", "def register(request):", CREATE_VIEW + "def _old_register(request):"),
           ("music/views.py", "from django.contrib import messages\n",
            "from django.contrib import messages\nfrom django.db import transaction\n"
            "from django.urls import reverse_lazy\nfrom django.views.generic import CreateView\n")]),
    Right("04", "music/tasks/ as a package: the task is music.tasks.spotify.fetch_spotify_genres",
          as_package("04-serializable-args", "music", "spotify")),
]
