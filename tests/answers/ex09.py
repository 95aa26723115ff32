"""Exercise 09 (retries with backoff and jitter, no retry on a 404): typical answers."""

from . import Right, Wrong

DECORATOR = """@shared_task(
    autoretry_for=(PlaylistAPIUnavailable,),
    max_retries=5,
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    ignore_result=True,
)
def fetch_spotify_genres(artist_id):
"""
TRY = """    try:
        genres = fetch_playlist_genres(playlist_url)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise PlaylistAPIUnavailable(f"No answer from the playlist API: {exc}") from exc
    except requests.HTTPError as exc:
        status = exc.response.status_code
        if status == 404:
            # Not a passing trouble: asking again won't make the playlist exist.
            Artist.objects.filter(pk=artist_id).update(playlist_not_found=True)
            return []
        if status >= 500:
            raise PlaylistAPIUnavailable(f"The playlist API answered {status}.") from exc
        raise  # any other 4xx is our mistake: fail, and let someone look
"""
SERVER_ERROR = """        if status >= 500:
            raise PlaylistAPIUnavailable(f"The playlist API answered {status}.") from exc
"""
MARK = "            Artist.objects.filter(pk=artist_id).update(playlist_not_found=True)\n"
PLAIN_CALL = "    genres = fetch_playlist_genres(playlist_url)\n"


def _decorator(**options) -> str:
    lines = "".join(f"    {name}={value},\n" for name, value in options.items())
    return f"@shared_task(\n{lines})\ndef fetch_spotify_genres(artist_id):\n"


WRONG = [
    Wrong("09", "autoretry_for=(Exception,) around the plain call retries a 404 too",
          [("music/tasks.py", DECORATOR, _decorator(autoretry_for="(Exception,)", max_retries=5,
                                                    retry_backoff=True)),
           ("music/tasks.py", TRY, PLAIN_CALL)],
          "A 404 is asked once", "retried a playlist that does not exist"),
    Wrong("09", "requests.RequestException in autoretry_for, with the 404 re-raised",
          [("music/tasks.py", "autoretry_for=(PlaylistAPIUnavailable,)",
            "autoretry_for=(PlaylistAPIUnavailable, requests.RequestException)"),
           ("music/tasks.py", MARK + "            return []\n", MARK + "            raise\n")],
          "A 404 is asked once", "retried a playlist that does not exist"),
    Wrong("09", "a constant countdown",
          [("music/tasks.py", "    retry_backoff=True,\n",
            '    retry_kwargs={"countdown": 5},\n')],
          "Each retry waits longer", "a constant wait"),
    Wrong("09", "no countdown at all: Celery's default_retry_delay every time",
          [("music/tasks.py", "    retry_backoff=True,\n", "")],
          "Each retry waits longer", "default_retry_delay"),
    Wrong("09", "backoff without jitter",
          [("music/tasks.py", "retry_jitter=True", "retry_jitter=False")],
          "random part: jitter", "retry_jitter=False"),
    Wrong("09", "retries without a limit",
          [("music/tasks.py", "max_retries=5", "max_retries=None")],
          "FAILURE after 5 retries", "never gives up"),
    Wrong("09", "retry_backoff without max_retries: Celery's default of 3",
          [("music/tasks.py", "    max_retries=5,\n", "")],
          "FAILURE after 5 retries", "default max_retries is 3"),
    Wrong("09", "retries only connection errors, not a 5xx",
          [("music/tasks.py", SERVER_ERROR, "")],
          "503, 503, 200", "without a retry"),
    Wrong("09", "retries a 503 only",
          [("music/tasks.py", "if status >= 500:", "if status == 503:")],
          "A 5xx that never ends", "not on 503 only"),
    Wrong("09", "catches the 5xx and returns without a retry",
          [("music/tasks.py", 'raise PlaylistAPIUnavailable(f"The playlist API answered '
            '{status}.") from exc', "return []")],
          "503, 503, 200", "caught the error and returned"),
    Wrong("09", "retries connection errors but not timeouts",
          [("music/tasks.py", "except (requests.ConnectionError, requests.Timeout) as exc:",
            "except requests.ConnectionError as exc:")],
          "A timeout and a dropped connection", "ReadTimeout"),
    Wrong("09", "a 404 leaves no mark on the artist",
          [("music/tasks.py", MARK, "")],
          "A 404 is asked once", "nothing says that the playlist was not found"),
]

MANUAL = '''@shared_task(bind=True, max_retries=5)
def fetch_spotify_genres(self, artist_id):
    artist = Artist.objects.filter(pk=artist_id).first()
    if artist is None or not artist.spotify_playlist_url:
        return []
    try:
        genres = fetch_playlist_genres(artist.spotify_playlist_url)
    except requests.HTTPError as exc:
        if exc.response.status_code == 404:
            Artist.objects.filter(pk=artist_id).update(playlist_not_found=True)
            return []
        if exc.response.status_code < 500:
            raise
        raise self.retry(exc=exc, countdown=2 ** self.request.retries + random.uniform(0, 1))
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise self.retry(exc=exc, countdown=2 ** self.request.retries + random.uniform(0, 1))
    Artist.objects.filter(pk=artist_id).update(genres=genres)
    return genres


def _old_fetch_spotify_genres(artist_id):
'''

DONT = '''class PlaylistNotFound(requests.HTTPError):
    """The API does not know this playlist."""


@shared_task(
    autoretry_for=(requests.RequestException,),
    dont_autoretry_for=(PlaylistNotFound,),
    max_retries=5,
    retry_backoff=2,
    retry_backoff_max=60,
)
def fetch_spotify_genres(artist_id):
    artist = Artist.objects.filter(pk=artist_id).first()
    if artist is None or not artist.spotify_playlist_url:
        return []
    try:
        genres = fetch_playlist_genres(artist.spotify_playlist_url)
    except requests.HTTPError as exc:
        if exc.response.status_code == 404:
            Artist.objects.filter(pk=artist_id).update(playlist_not_found=True)
            raise PlaylistNotFound(str(exc), response=exc.response) from exc
        raise
    Artist.objects.filter(pk=artist_id).update(genres=genres)
    return genres


def _old_fetch_spotify_genres(artist_id):
'''

ETA = '''@shared_task(bind=True, max_retries=5)
def fetch_spotify_genres(self, artist_id):
    from datetime import datetime, timezone as tz
    artist = Artist.objects.get(pk=artist_id)
    try:
        genres = fetch_playlist_genres(artist.spotify_playlist_url)
    except requests.RequestException as exc:
        response = getattr(exc, "response", None)
        if response is not None and response.status_code == 404:
            artist.playlist_status = "not found"
            artist.save(update_fields=["playlist_status"])
            return []
        if response is not None and response.status_code < 500:
            raise
        base = 3 * 2 ** self.request.retries
        wait = base / 2 + random.random() * base / 2  # "equal jitter"
        raise self.retry(exc=exc, eta=datetime.now(tz.utc) + timedelta(seconds=wait))
    artist.genres = genres
    artist.playlist_status = "found"
    artist.save(update_fields=["genres", "playlist_status"])
    return genres


def _old_fetch_spotify_genres(artist_id):
'''
WRONG += [
    Wrong("09", "self.retry() without exc=, its MaxRetriesExceededError caught: SUCCESS at the end",
          [("music/tasks.py", DECORATOR, MANUAL.replace(
              "        raise self.retry(exc=exc, countdown=2 ** self.request.retries + "
              "random.uniform(0, 1))\n    except (requests.ConnectionError",
              "        try:\n            raise self.retry(countdown=2 ** self.request.retries + "
              "random.uniform(0, 1))\n        except self.MaxRetriesExceededError:\n"
              "            return []\n    except (requests.ConnectionError")),
           ("music/tasks.py", "import requests\n", "import random\n\nimport requests\n")],
          "FAILURE after 5 retries", "the lost genres look like a success"),
]

# Jitter from a generator of the project's own, which the check cannot hold: two of its draws
# may fall close together, and the check then draws more before it says there is no jitter.
OWN_RANDOM = MANUAL.replace("random.uniform(0, 1)", "JITTER.uniform(0, 1)").replace(
    "@shared_task(bind=True", "JITTER = random.Random()\n\n\n@shared_task(bind=True")
FIELD = "    playlist_not_found = models.BooleanField(default=False)\n"
MIGRATION = "music/migrations/0003_artist_playlist_not_found.py"

RIGHT = [
    Right("09", "bind=True and self.retry() with a countdown of 2**n plus random jitter",
          [("music/tasks.py", DECORATOR, MANUAL),
           ("music/tasks.py", "import requests\n", "import random\n\nimport requests\n")]),
    Right("09", "self.retry() with jitter from the project's own random.Random()",
          [("music/tasks.py", DECORATOR, OWN_RANDOM),
           ("music/tasks.py", "import requests\n", "import random\n\nimport requests\n")]),
    Right("09", "autoretry_for RequestException with dont_autoretry_for a 404 exception",
          [("music/tasks.py", DECORATOR, DONT)]),
    Right("09", "an eta with equal jitter, and a status field instead of a flag",
          [("music/tasks.py", DECORATOR, ETA),
           ("music/tasks.py", "import requests\n", "import random\n\nimport requests\n"),
           ("music/models.py", FIELD,
            '    playlist_status = models.CharField(max_length=20, default="unknown")\n'),
           (MIGRATION, 'name="playlist_not_found",\n            field=models.BooleanField('
            'default=False)', 'name="playlist_status",\n            field=models.CharField('
            'default="unknown", max_length=20)')]),
    Right("09", "a date for the mark: playlist_missing_since, empty until the API answers 404",
          [("music/tasks.py", MARK, MARK.replace("playlist_not_found=True",
                                                 "playlist_missing_since=timezone.now()")),
           ("music/models.py", FIELD,
            "    playlist_missing_since = models.DateTimeField(null=True, blank=True)\n"),
           (MIGRATION, 'name="playlist_not_found",\n            field=models.BooleanField('
            'default=False)', 'name="playlist_missing_since",\n            field=models.'
            'DateTimeField(blank=True, null=True)')]),
]
