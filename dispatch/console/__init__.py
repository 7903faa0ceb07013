"""The web console: static HTML, CSS and ES modules served at ``/console/``.

No build step and nothing fetched from elsewhere at runtime (deployments may be offline): the
browser loads ``static/`` as it is and talks to the ``/api/v1`` endpoints like any other client.
The residents' web app (``dispatch/residentapp``, at ``/r/``) is served the same way by
``mount_shell``.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"
PATH = "/console"

# The worker's phone app (an installable web app): browsers want its manifest as this type, and
# Python's table may not know the suffix. The service worker (static/sw.js) sits at the top of
# /console/, so its default scope is the whole console and no Service-Worker-Allowed is needed.
mimetypes.add_type("application/manifest+json", ".webmanifest")

# Only this origin: neither the console nor the residents' app loads or sends anything elsewhere.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class ShellFiles(StaticFiles):
    """Static files that browsers revalidate on every load (a cheap 304 when unchanged), so an
    upgraded server never runs next to yesterday's cached modules."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "no-cache"
        response.headers.update(_SECURITY_HEADERS)
        return response


def mount_shell(app: FastAPI, path: str, directory: Path, *, name: str) -> None:
    """Serve a static web app at ``path + "/"`` (its ``index.html`` for the folder) and send
    ``path`` there; neither appears in the OpenAPI."""

    @app.get(path, include_in_schema=False, name=f"{name}_folder")
    def to_folder() -> RedirectResponse:
        return RedirectResponse(f"{path}/", status_code=307)

    app.mount(path, ShellFiles(directory=directory, html=True), name=name)


def mount_console(app: FastAPI) -> None:
    """Serve the console at ``/console/`` and send ``/`` there."""

    @app.get("/", include_in_schema=False)
    def to_console() -> RedirectResponse:
        return RedirectResponse(f"{PATH}/", status_code=307)

    mount_shell(app, PATH, STATIC_DIR, name="console")
