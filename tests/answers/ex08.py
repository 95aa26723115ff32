"""Exercise 08 (task events and Flower's login): typical wrong answers, and right ones."""

from pathlib import Path

from . import Right, Wrong

SENT = "CELERY_TASK_SEND_SENT_EVENT = True"
WORKER = "CELERY_WORKER_SEND_TASK_EVENTS = True"
STARTED = "CELERY_TASK_TRACK_STARTED = True"
LOGIN = 'basic_auth = env.list("FLOWER_BASIC_AUTH")'
EVENT_SETTINGS = f"\n{WORKER}\n{SENT}\n{STARTED}\n"
NO_EVENT_SETTINGS = [("config/settings.py", WORKER, ""), ("config/settings.py", SENT, ""),
                     ("config/settings.py", STARTED, "")]
IMPORT_OS = ("flowerconfig.py", "import environ\n", "import os\n\nimport environ\n")
AFTER_APP = "app.autodiscover_tasks()\n"
FEEDBACK_QUIET = ("feedback/tasks.py", "", "\nsend_feedback_email_task.send_events = False\n")

WRONG = [
    # Task events
    Wrong("08", "events on in the worker, but not for sent tasks",
          [("config/settings.py", SENT, "CELERY_TASK_SEND_SENT_EVENT = False")],
          "Flower hears your task's events", "no task-sent"),
    Wrong("08", "worker events switched on in celery.py (as -E would), no sent event",
          [*NO_EVENT_SETTINGS,
           ("config/celery.py", AFTER_APP, AFTER_APP + "\napp.conf.worker_send_task_events = True"
            "\napp.conf.task_track_started = True\n")],
          "Flower hears your task's events", "CELERY_TASK_SEND_SENT_EVENT = True"),
    Wrong("08", "no events from the worker",
          [("config/settings.py", WORKER, "")],
          "Flower hears your task's events", "no task-received, task-started or task-succeeded"),
    Wrong("08", "the worker's setting without the CELERY_ prefix",
          [("config/settings.py", WORKER, "WORKER_SEND_TASK_EVENTS = True")],
          "Flower hears your task's events", "without the CELERY_ prefix"),
    Wrong("08", "event settings only under if DEBUG",
          [("config/settings.py", f"{WORKER}\n{SENT}\n",
            f"if DEBUG:\n    {WORKER}\n    {SENT}\n")],
          "Flower hears your task's events", "under `if DEBUG:`"),
    Wrong("08", "the feedback task opts out of events",
          [FEEDBACK_QUIET],
          "Flower hears your task's events", "send_feedback_email_task says send_events=False"),
    Wrong("08", "STARTED is not tracked",
          [("config/settings.py", STARTED, "")],
          "its result says STARTED", "still looked PENDING"),
    Wrong("08", "STARTED tracked only under if DEBUG",
          [("config/settings.py", STARTED, f"if DEBUG:\n    {STARTED}")],
          "its result says STARTED", "under `if DEBUG:`"),
    # Flower's login
    Wrong("08", "the login is written in flowerconfig.py",
          [("flowerconfig.py", LOGIN, 'basic_auth = ["admin:encore-2024"]')],
          "gives Flower the login", "admin:*** instead"),
    Wrong("08", "a written login beside the one from the environment",
          [("flowerconfig.py", LOGIN,
            'basic_auth = [os.environ["FLOWER_BASIC_AUTH"], "admin:admin"]'), IMPORT_OS],
          "gives Flower the login", "adds a login written in it"),
    Wrong("08", "flowerconfig.py sets no login",
          [("flowerconfig.py", LOGIN, "")],
          "gives Flower the login", "sets no basic_auth"),
    Wrong("08", "flowerconfig.py reads another variable (os.environ)",
          [("flowerconfig.py", LOGIN, 'basic_auth = [os.environ["FLOWER_LOGIN"]]'), IMPORT_OS],
          "gives Flower the login", "it reads FLOWER_LOGIN, which is not set"),
    Wrong("08", "flowerconfig.py reads another variable (django-environ)",
          [("flowerconfig.py", LOGIN, 'basic_auth = env.list("BASIC_AUTH")')],
          "gives Flower the login", "it reads BASIC_AUTH, which is not set"),
    Wrong("08", "flowerconfig.py lets .env win over the environment",
          [("flowerconfig.py", "environ.Env.read_env(ENV_FILE)",
            "environ.Env.read_env(ENV_FILE, overwrite=True)"),
           (".env", "", "FLOWER_BASIC_AUTH=encore:from-the-dotenv-file\n")],
          "gives Flower the login", "lets .env win over the environment"),
    Wrong("08", "flowerconfig.py inside config/",
          [("config/flowerconfig.py", "", Path(__file__).resolve().parents[2].joinpath(
              "solutions/08-flower-monitoring/flowerconfig.py").read_text()),
           ("config/settings.py", "", EVENT_SETTINGS)],
          "gives Flower the login", "there is config/flowerconfig.py", stage=7),
    Wrong("08", "no flowerconfig.py at all",
          [("config/settings.py", "", EVENT_SETTINGS)],
          "gives Flower the login", "There is no flowerconfig.py", stage=7),
    Wrong("08", "the login split at its colon: user and password as two logins",
          [("flowerconfig.py", LOGIN, 'basic_auth = os.environ["FLOWER_BASIC_AUTH"].split(":")'),
           IMPORT_OS],
          "gives Flower the login", "never at the colon"),
    Wrong("08", "a default login when FLOWER_BASIC_AUTH is unset",
          [("flowerconfig.py", LOGIN,
            'basic_auth = [os.environ.get("FLOWER_BASIC_AUTH", "admin:admin")]'), IMPORT_OS],
          "no default login", "a default written in the file"),
    Wrong("08", "a default password in django-environ's default=",
          [("flowerconfig.py", LOGIN,
            'basic_auth = env.list("FLOWER_BASIC_AUTH", default=["encore:CHANGE-ME"])')],
          "no default login", "a default written in the file"),
    Wrong("08", "an empty login when FLOWER_BASIC_AUTH is unset",
          [("flowerconfig.py", LOGIN, 'basic_auth = env.list("FLOWER_BASIC_AUTH", default=[])')],
          "no default login", "Flower would start open to anyone"),
    # As lesson 08 says to: the login in .env. The defaults above must still show.
    Wrong("08", "a default login, with the login in .env as the lesson says",
          [(".env", "", "SECRET_KEY=not-a-secret\nFLOWER_BASIC_AUTH=encore:from-dotenv\n"),
           ("flowerconfig.py", LOGIN,
            'basic_auth = env.list("FLOWER_BASIC_AUTH", default=["admin:admin"])')],
          "no default login", "a default written in the file"),
    Wrong("08", "an empty login, with the login in .env as the lesson says",
          [(".env", "", "FLOWER_BASIC_AUTH=encore:from-dotenv\n"),
           ("flowerconfig.py", LOGIN, 'basic_auth = env.list("FLOWER_BASIC_AUTH", default=[])')],
          "no default login", "Flower would start open to anyone"),
]

RIGHT = [
    Right("08", "the login in .env, read by a path from the settings' BASE_DIR",
          [(".env", "", "FLOWER_BASIC_AUTH=encore:from-dotenv\n"),
           ("flowerconfig.py", "if ENV_FILE.exists():\n    environ.Env.read_env(ENV_FILE)\n",
            "from config.settings import BASE_DIR\n\n"
            "environ.Env.read_env(BASE_DIR / \".env\")\n")]),
    Right("08", "os.environ in flowerconfig.py, and a comma-separated string",
          [("flowerconfig.py", LOGIN, 'basic_auth = os.environ["FLOWER_BASIC_AUTH"]'),
           IMPORT_OS]),
    Right("08", "os.environ in flowerconfig.py, in a list",
          [("flowerconfig.py", LOGIN, 'basic_auth = [os.environ["FLOWER_BASIC_AUTH"]]'),
           IMPORT_OS]),
    Right("08", "env() as a string, read_only on, and a clear exit when the login is missing",
          [("flowerconfig.py", LOGIN,
            'if "FLOWER_BASIC_AUTH" not in os.environ:\n'
            '    sys.exit("Set FLOWER_BASIC_AUTH=user:password: Flower never runs open.")\n'
            'basic_auth = env("FLOWER_BASIC_AUTH")\n'
            "# Watch, don't act: no revoking or shutting down from the browser.\n"
            "read_only = True"),
           ("flowerconfig.py", "import environ\n", "import os\nimport sys\n\nimport environ\n")]),
    Right("08", "event settings written on the app in config/celery.py",
          [*NO_EVENT_SETTINGS,
           ("config/celery.py", AFTER_APP,
            AFTER_APP + "\napp.conf.worker_send_task_events = True\n"
            "app.conf.task_send_sent_event = True\napp.conf.task_track_started = True\n")]),
    Right("08", "event settings with app.conf.update",
          [*NO_EVENT_SETTINGS,
           ("config/celery.py", AFTER_APP,
            AFTER_APP + "\napp.conf.update(\n    worker_send_task_events=True,\n"
            "    task_send_sent_event=True,\n    task_track_started=True,\n)\n")]),
    Right("08", "event settings read from the environment, on by default",
          [("config/settings.py", f"{WORKER}\n{SENT}\n",
            'CELERY_WORKER_SEND_TASK_EVENTS = env.bool("CELERY_EVENTS", default=True)\n'
            "CELERY_TASK_SEND_SENT_EVENT = CELERY_WORKER_SEND_TASK_EVENTS\n")]),
]
