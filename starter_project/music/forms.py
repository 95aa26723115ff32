from django import forms

from .models import Album, Artist


class ArtistForm(forms.ModelForm):
    class Meta:
        model = Artist
        fields = ["name", "email", "spotify_playlist_url"]
        labels = {"name": "Artist or band name"}
        help_texts = {
            "spotify_playlist_url": "Optional. We read your genres from it.",
        }


class AlbumForm(forms.ModelForm):
    class Meta:
        model = Album
        fields = ["artist", "title"]
