from django.db import models


class SearchEntry(models.Model):
    """The searchable text of one album: its title, artist name and genres."""

    album = models.OneToOneField(
        "music.Album", on_delete=models.CASCADE, related_name="search_entry"
    )
    text = models.TextField()
    indexed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "search entries"

    def __str__(self):
        return self.text
