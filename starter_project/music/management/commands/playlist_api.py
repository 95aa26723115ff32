"""
A fake, slow playlist API, to register artists against on your own machine.

GET /genres?url=<playlist URL> waits --delay seconds, then answers
{"genres": [...]}: one to three genres, always the same ones for a given URL.
"""
import hashlib
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from django.core.management.base import BaseCommand, CommandError

GENRES = [
    "ambient", "blues", "classical", "country", "disco", "drum and bass",
    "electronic", "folk", "funk", "hip hop", "indie rock", "jazz", "k-pop",
    "metal", "punk", "reggae", "soul", "synth-pop", "techno", "trip hop",
]


def genres_for(playlist_url):
    """Return one to three genres chosen from a hash of playlist_url."""
    # hashlib, not hash(): hash() of a str changes every time Python starts.
    digest = hashlib.sha256(playlist_url.encode()).digest()
    wanted = 1 + digest[0] % 3
    genres = []
    for byte in digest[1:]:
        genre = GENRES[byte % len(GENRES)]
        if genre not in genres:
            genres.append(genre)
        if len(genres) == wanted:
            break
    return genres


class PlaylistAPIHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        parts = urlsplit(self.path)
        urls = parse_qs(parts.query).get("url")
        if parts.path.rstrip("/") != "/genres":
            self.send_json(404, {"error": "Not found. Try /genres?url=..."})
        elif not urls:
            self.send_json(400, {"error": "The url parameter is missing."})
        else:
            time.sleep(self.server.delay)
            self.send_json(200, {"genres": genres_for(urls[0])})

    def send_json(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.stdout.write(f"GET {self.path} -> {status} {body.decode()}")

    def log_message(self, format, *args):
        # send_json prints each request already, with its answer.
        pass


class Command(BaseCommand):
    help = "Run a fake, slow playlist API on 127.0.0.1 (Ctrl-C to stop)."
    # It serves HTTP only: let it start even while the project has errors.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument(
            "--delay", type=float, default=3.0,
            help="Seconds to wait before each answer (default: 3).",
        )

    def handle(self, *args, port, delay, **options):
        try:
            server = ThreadingHTTPServer(("127.0.0.1", port), PlaylistAPIHandler)
        except OSError as exc:
            raise CommandError(f"Can't listen on port {port}: {exc}")
        server.delay = delay
        server.stdout = self.stdout
        self.stdout.write(
            f"Fake playlist API at http://127.0.0.1:{port}/genres, "
            f"answering after {delay:g} s. Quit with CONTROL-C."
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
        finally:
            server.server_close()
