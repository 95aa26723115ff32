"""Randomised fixture data from a printed seed, so a hard-coded answer fails and any run replays."""

from __future__ import annotations

import random
import string

__all__ = ["Fake"]

_FIRST = ["Ada", "Bea", "Cleo", "Dario", "Elif", "Femi", "Greta", "Hugo", "Ines", "Jonas",
          "Kaia", "Luca", "Mira", "Nils", "Oona", "Pablo", "Quinn", "Rosa", "Sami", "Tove"]
_LAST = ["Arden", "Bloom", "Castell", "Dunmore", "Everly", "Farrow", "Grieve", "Holm",
         "Ivers", "Jansen", "Kett", "Lindqvist", "Moreau", "Novak", "Okafor", "Pereira"]
_ADJ = ["Velvet", "Paper", "Electric", "Quiet", "Golden", "Neon", "Hollow", "Midnight",
        "Wild", "Glass", "Silver", "Northern", "Tidal", "Crimson", "Lunar", "Amber"]
_NOUN = ["Harbour", "Echoes", "Satellites", "Gardens", "Rivers", "Static", "Lanterns",
         "Weather", "Orchards", "Signals", "Tides", "Horizons", "Embers", "Motels"]
_WORDS = ["loved", "the", "new", "player", "but", "search", "feels", "slow", "please",
          "add", "dark", "mode", "great", "playlists", "keep", "going", "thanks", "album"]
_GENRES = ["indie", "folk", "jazz", "shoegaze", "techno", "soul", "ambient", "punk",
           "afrobeat", "bossa nova", "dream pop", "grime", "krautrock", "synthwave"]


class Fake:
    """Names, addresses, titles and messages drawn from one seeded generator."""

    def __init__(self, seed: int):
        self.seed = seed
        self.random = random.Random(seed)
        self._used: set[str] = set()

    def _unique(self, make) -> str:
        for _ in range(1000):
            value = make()
            if value not in self._used:
                self._used.add(value)
                return value
        raise RuntimeError("ran out of unique fake values")

    def token(self, length: int = 6) -> str:
        return "".join(self.random.choices(string.ascii_uppercase + string.digits, k=length))

    def name(self) -> str:
        return self._unique(lambda: f"{self.random.choice(_FIRST)} {self.random.choice(_LAST)}")

    def email(self, name: str | None = None) -> str:
        local = (name or self.name()).lower().replace(" ", ".")
        domain = self.random.choice(["example.com", "example.org", "example.net"])
        return self._unique(lambda: f"{local}.{self.random.randint(10, 999)}@{domain}")

    def title(self) -> str:
        return self._unique(lambda: f"{self.random.choice(_ADJ)} {self.random.choice(_NOUN)}")

    def message(self) -> str:
        words = self.random.choices(_WORDS, k=self.random.randint(6, 12))
        return f"{' '.join(words).capitalize()} (ref {self.token()})"

    def genres(self, count: int | None = None) -> list[str]:
        return self.random.sample(_GENRES, count or self.random.randint(1, 3))

    def count(self, low: int, high: int) -> int:
        return self.random.randint(low, high)
