"""Message templates from config/templates.yaml."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class Templates:
    def __init__(self, texts: dict[str, str], defaults: dict[str, Any]) -> None:
        self.texts = texts
        self.defaults = defaults

    @classmethod
    def load(cls, path: Path, **defaults: Any) -> Templates:
        return cls(yaml.safe_load(path.read_text(encoding="utf-8")) or {}, defaults)

    def render(self, key: str, **values: Any) -> str:
        return self.texts[key].format(**{**self.defaults, **values}).rstrip("\n")
