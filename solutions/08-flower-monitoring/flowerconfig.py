"""Flower's settings. `celery -A config flower`, run next to manage.py, reads this file.

The login comes from the environment (or .env), never from this file: it is a secret.
"""

from pathlib import Path

import environ

env = environ.Env()
if (Path(__file__).resolve().parent / ".env").exists():
    environ.Env.read_env(Path(__file__).resolve().parent / ".env")

# "user:password"; several logins are separated by commas.
basic_auth = env.list("FLOWER_BASIC_AUTH")
port = env.int("FLOWER_PORT", default=5555)
