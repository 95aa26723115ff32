from django.apps import AppConfig


class MusicConfig(AppConfig):
    name = "music"

    # TODO(exercise 05): connect the album-created receiver here, in ready().
