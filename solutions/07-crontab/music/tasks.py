"""Music tasks."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Max, Q
from django.utils import timezone

from .models import Album, Artist
from .spotify import fetch_playlist_genres


# The argument is the artist's id, a plain number that JSON carries. The worker reads the
# artist from the database itself, so it always works on the current row.
@shared_task
def fetch_spotify_genres(artist_id):
    """Read the artist's genres from their playlist and store them; return the genres."""
    artist = Artist.objects.filter(pk=artist_id).first()
    if artist is None or not artist.spotify_playlist_url:
        return []  # deleted since, or nothing to read
    genres = fetch_playlist_genres(artist.spotify_playlist_url)
    # update() writes only this column, so it cannot undo an edit made meanwhile.
    Artist.objects.filter(pk=artist_id).update(genres=genres)
    return genres


@shared_task
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
    """Email every artist with nothing new for 30 days; return how many were emailed.

    Beat runs this every 24 hours (CELERY_BEAT_SCHEDULE in config/settings.py).
    """
    cutoff = timezone.now() - INACTIVE_AFTER
    inactive = Artist.objects.annotate(newest_album=Max("albums__created_at")).filter(
        # Their newest album is older than 30 days...
        Q(newest_album__lt=cutoff)
        # ...or they have no album at all, and joined more than 30 days ago.
        | Q(newest_album__isnull=True, joined_at__lt=cutoff)
    )
    count = 0
    for artist in inactive:
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


DIGEST_WINDOW = timedelta(days=7)


@shared_task
def send_weekly_digest():
    """Email each DIGEST_RECIPIENTS address the albums of the last 7 days; return how many emails.

    Beat runs this on Mondays at 07:30 in TIME_ZONE (CELERY_BEAT_SCHEDULE in config/settings.py).
    """
    since = timezone.now() - DIGEST_WINDOW
    albums = Album.objects.filter(created_at__gte=since).select_related("artist")
    albums = albums.order_by("created_at", "pk")
    if albums:
        lines = [f"- “{album.title}” by {album.artist.name}" for album in albums]
        body = "New on Encore in the last 7 days:\n\n" + "\n".join(lines)
    else:
        body = "There were no new albums on Encore in the last 7 days."
    for address in settings.DIGEST_RECIPIENTS:
        # One email per address: recipients do not see each other's addresses.
        send_mail(
            subject="Encore weekly digest",
            message=body + "\n\nThe Encore team",
            from_email=None,
            recipient_list=[address],
        )
    return len(settings.DIGEST_RECIPIENTS)
