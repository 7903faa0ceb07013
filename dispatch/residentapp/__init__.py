"""The residents' web app: static HTML, CSS and ES modules served at ``/r/``.

Residents sign in with their phone number and an SMS code, file requests and follow them. Like the
console it has no build step and loads nothing from elsewhere; it talks only to ``/api/v1/r`` and
is an installable web app of its own (manifest and service worker scoped to ``/r/``).
``dispatch/app.py`` mounts it with the console's ``mount_shell`` (same security headers and
caching).
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
PATH = "/r"
