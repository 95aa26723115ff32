"""Flower's settings. `celery -A config flower`, run next to manage.py, reads this file.

The login comes from the environment (or .env), never from this file: it is a secret.
"""

from pathlib import Path

import environ

env = environ.Env()
ENV_FILE = Path(__file__).resolve().parent / ".env"
if ENV_FILE.exists():
    environ.Env.read_env(ENV_FILE)

# "user:password" (several logins: separate them with commas). Without it, Flower won't start.
basic_auth = env.list("FLOWER_BASIC_AUTH")
# This machine only: Flower's own default is every network interface.
address = env("FLOWER_ADDRESS", default="127.0.0.1")
port = env.int("FLOWER_PORT", default=5555)
