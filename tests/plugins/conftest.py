"""Makes the plugin distributions under plugins/ importable without installing them.

A folder of plugins/ with its own pyproject.toml is a separate distribution whose package
sits at the folder's top level; putting that folder first on sys.path lets its tests run
against the working tree whether or not the distribution is installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

for project in sorted((ROOT / "plugins").glob("*/pyproject.toml")):
    folder = str(project.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
