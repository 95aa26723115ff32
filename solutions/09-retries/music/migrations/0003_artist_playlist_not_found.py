from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("music", "0002_artist_last_reminded_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="artist",
            name="playlist_not_found",
            field=models.BooleanField(default=False),
        ),
    ]
