"""Where datasets live on disk: ``$EXDA_DATA`` or ``~/.cache/exda-lite``."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "EXDA_DATA"


def default_data_dir() -> Path:
    """``$EXDA_DATA`` if set, else ``~/.cache/exda-lite``: where datasets are cached."""
    return Path(os.environ.get(DATA_ENV) or Path.home() / ".cache" / "exda-lite").expanduser()
