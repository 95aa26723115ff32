from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("music", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="artist",
            name="last_reminded_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
