"""docker-compose.yml runs the stack students will run elsewhere: web, worker, beat, Flower and
Redis. No Docker engine here, so its structure is what is tested."""

from __future__ import annotations

import yaml

from grader.exercises import REPO


def _services() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]


def _command(service: dict) -> str:
    command = service["command"]
    return " ".join(command) if isinstance(command, list) else command


def test_compose_has_the_five_processes_of_a_celery_project():
    services = _services()
    assert set(services) == {"web", "worker", "beat", "flower", "redis"}
    assert services["redis"]["image"].startswith("redis:")
    assert "redis-cli" in " ".join(services["redis"]["healthcheck"]["test"])
    commands = {name: _command(s) for name, s in services.items() if name != "redis"}
    assert "manage.py runserver 0.0.0.0:8000" in commands["web"]
    assert "migrate" in commands["web"]
    assert "celery -A config worker" in commands["worker"]
    assert "celery -A config beat" in commands["beat"]
    assert "celery -A config flower" in commands["flower"]


def test_every_process_runs_the_project_on_the_redis_service():
    for name, service in _services().items():
        if name == "redis":
            continue
        assert service["build"] == ".", name
        assert service["environment"]["REDIS_URL"] == "redis://redis:6379/0", name
        assert service["depends_on"]["redis"]["condition"] == "service_healthy", name
        assert "./starter_project:/app" in service["volumes"], name
        assert "deploy" not in service, f"{name}: one of each (two beats send everything twice)"


def test_flower_never_runs_open_and_ports_stay_on_this_machine():
    services = _services()
    assert ":?" in services["flower"]["environment"]["FLOWER_BASIC_AUTH"]
    ports = [p for s in services.values() for p in s.get("ports", [])]
    assert ports and all(p.startswith("127.0.0.1:") for p in ports), ports


def test_the_image_installs_the_pinned_requirements_and_the_project():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "pip install --no-cache-dir -r /requirements.txt" in dockerfile
    assert "COPY starter_project/ /app/" in dockerfile
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".git", ".venv", "**/.env", "**/db.sqlite3"} <= set(ignored)
