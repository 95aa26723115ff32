"""Signal receivers of the music app. MusicConfig.ready() connects them."""

from django.db import transaction

from .tasks import send_album_congratulations


def album_saved(sender, instance, created, raw=False, **kwargs):
    """After a new album is saved, congratulate its artist from a worker."""
    if raw or not created:
        return  # loaded from a fixture (loaddata), or an edit: not a new album
    # Enqueue only once the album is committed: a worker that looked for it before the
    # commit would not find it. If the transaction rolls back, nothing is sent at all.
    # robust: if the broker cannot be reached, log it rather than fail a request whose
    # album is already committed.
    album_id = instance.pk
    transaction.on_commit(lambda: send_album_congratulations.delay(album_id), robust=True)
