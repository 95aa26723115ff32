"""Exercise 08 (task events and Flower's login): typical wrong answers, and right ones."""

from . import Right, Wrong

SENT = "CELERY_TASK_SEND_SENT_EVENT = True"
WORKER = "CELERY_WORKER_SEND_TASK_EVENTS = True"
STARTED = "CELERY_TASK_TRACK_STARTED = True"
LOGIN = 'basic_auth = env.list("FLOWER_BASIC_AUTH")'
EVENT_SETTINGS = f"\n{WORKER}\n{SENT}\n{STARTED}\n"

WRONG = [
    Wrong("08", "events on in the worker, but not for sent tasks",
          [("config/settings.py", SENT, "CELERY_TASK_SEND_SENT_EVENT = False")],
          "Flower hears your task's events", "no task-sent"),
    Wrong("08", "no events from the worker",
          [("config/settings.py", WORKER, "")],
          "Flower hears your task's events", "no task-received, task-started or task-succeeded"),
    Wrong("08", "the worker's setting without the CELERY_ prefix",
          [("config/settings.py", WORKER, "WORKER_SEND_TASK_EVENTS = True")],
          "Flower hears your task's events", "CELERY_WORKER_SEND_TASK_EVENTS = True"),
    Wrong("08", "STARTED is not tracked",
          [("config/settings.py", STARTED, "")],
          "its result says STARTED", "still looked PENDING"),
    Wrong("08", "the login is written in flowerconfig.py",
          [("flowerconfig.py", LOGIN, 'basic_auth = ["admin:encore-2024"]')],
          "gives Flower the login", "admin:*** instead"),
    Wrong("08", "flowerconfig.py sets no login",
          [("flowerconfig.py", LOGIN, "")],
          "gives Flower the login", "sets no basic_auth"),
    Wrong("08", "no flowerconfig.py at all",
          [("config/settings.py", "", EVENT_SETTINGS)],
          "gives Flower the login", "There is no flowerconfig.py", stage=7),
    Wrong("08", "a default login when FLOWER_BASIC_AUTH is unset",
          [("flowerconfig.py", LOGIN,
            'basic_auth = [os.environ.get("FLOWER_BASIC_AUTH", "admin:admin")]'),
           ("flowerconfig.py", "import environ\n", "import os\n\nimport environ\n")],
          "no default login", "a default written in the file"),
    Wrong("08", "an empty login when FLOWER_BASIC_AUTH is unset",
          [("flowerconfig.py", LOGIN, 'basic_auth = env.list("FLOWER_BASIC_AUTH", default=[])')],
          "no default login", "Flower would start open to anyone"),
]

RIGHT = [
    Right("08", "os.environ in flowerconfig.py, and a comma-separated string",
          [("flowerconfig.py", LOGIN, 'basic_auth = os.environ["FLOWER_BASIC_AUTH"]'),
           ("flowerconfig.py", "import environ\n", "import os\n\nimport environ\n")]),
    Right("08", "event settings written on the app in config/celery.py",
          [("config/settings.py", WORKER, ""), ("config/settings.py", SENT, ""),
           ("config/settings.py", STARTED, ""),
           ("config/celery.py", "app.autodiscover_tasks()\n",
            "app.autodiscover_tasks()\n\napp.conf.worker_send_task_events = True\n"
            "app.conf.task_send_sent_event = True\napp.conf.task_track_started = True\n")]),
]
