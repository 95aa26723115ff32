"""Music tasks."""

from datetime import timedelta

from celery import shared_task
from django.core.mail import send_mail
from django.db.models import Max, Q
from django.utils import timezone

from .models import Album, Artist
from .spotify import fetch_playlist_genres


# The argument is the artist's id, a plain number that JSON carries. The worker reads the
# artist from the database itself, so it always works on the current row. Nobody reads what
# it returns (the worker's log and Flower show it), so no result is stored: ignore_result.
@shared_task(ignore_result=True)
def fetch_spotify_genres(artist_id):
    """Read the artist's genres from their playlist and store them; return the genres."""
    artist = Artist.objects.filter(pk=artist_id).first()
    if artist is None or not artist.spotify_playlist_url:
        return []  # deleted since, or nothing to read
    playlist_url = artist.spotify_playlist_url
    genres = fetch_playlist_genres(playlist_url)
    # The API took seconds, and the artist may have changed their playlist meanwhile: store
    # these genres only if the row still has the URL they came from. update() writes only
    # this column, so it cannot undo an edit made meanwhile either.
    Artist.objects.filter(pk=artist_id, spotify_playlist_url=playlist_url).update(genres=genres)
    return genres


# Fire and forget, as in lesson 02: nobody reads what it returns, so no result is stored.
@shared_task(ignore_result=True)
def send_album_congratulations(album_id):
    """Congratulate the artist on their new album, by email."""
    # get() raises Album.DoesNotExist if the album is not committed yet: see the lesson.
    album = Album.objects.select_related("artist").get(pk=album_id)
    artist = album.artist
    send_mail(
        subject=f'Congratulations on "{album.title}"',
        message=(
            f"Hello {artist.name},\n\n"
            f"“{album.title}” is now on Encore. Congratulations on the new album!\n\n"
            "The Encore team"
        ),
        from_email=None,  # DEFAULT_FROM_EMAIL
        recipient_list=[artist.email],
    )


INACTIVE_AFTER = timedelta(days=30)


@shared_task
def remind_inactive_artists():
    """Email every artist with nothing new for 30 days, once per 30 days; return how many.

    Beat runs this every 24 hours (CELERY_BEAT_SCHEDULE in config/settings.py).
    """
    now = timezone.now()  # read on every run: a worker runs for weeks
    cutoff = now - INACTIVE_AFTER
    not_reminded_lately = Q(last_reminded_at__isnull=True) | Q(last_reminded_at__lt=cutoff)
    inactive = Artist.objects.annotate(newest_album=Max("albums__created_at")).filter(
        # Their newest album is older than 30 days...
        Q(newest_album__lt=cutoff)
        # ...or they have no album at all, and joined more than 30 days ago.
        | Q(newest_album__isnull=True, joined_at__lt=cutoff),
        not_reminded_lately,
    )
    count = 0
    for artist in inactive:
        # Claim the artist first: this UPDATE changes the row only if nobody reminded them
        # since we looked, so of two runs at once (a second beat, a redelivered message)
        # exactly one gets 1 back and sends the email.
        claimed = Artist.objects.filter(not_reminded_lately, pk=artist.pk).update(
            last_reminded_at=now
        )
        if not claimed:
            continue
        send_mail(
            subject="We miss your music on Encore",
            message=(
                f"Hello {artist.name},\n\n"
                "It has been a while since your last album on Encore. Your listeners "
                "are waiting: add something new at /albums/new/.\n\n"
                "The Encore team"
            ),
            from_email=None,
            recipient_list=[artist.email],
        )
        count += 1
    return count
