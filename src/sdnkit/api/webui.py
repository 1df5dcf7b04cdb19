"""The web UI's files (``sdnkit/web/static``), served at ``/`` beside the API under ``/api2/json``.

The UI is static: HTML, CSS and ES modules (Preact and htm vendored in ``static/vendor``) that talk
to the API only, so serving it is a file lookup. One ``GET``/``HEAD`` route answers every path
outside ``/api2``; a request for another method on an API path still reaches the API's own 405,
and a GET of an unknown API path its own 404. Every file goes out with a strict
Content-Security-Policy (no inline script, nothing from another origin), ``no-cache`` (a new
release is picked up on the next load) and the content type taken from the suffix, not from the
host's MIME table.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, Response

__all__ = ["STATIC_DIR", "install_ui"]

STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"
API_ROOT = "/api2"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
}

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _file(root: Path, path: str) -> Path | None:
    """The file a URL path names inside ``root`` (``index.html`` for a folder); None if none."""
    relative = path.strip("/")
    target = (root / relative).resolve() if relative else root
    if not target.is_relative_to(root):
        return None
    if target.is_dir():
        target = target / "index.html"
    return target if target.is_file() and target.suffix in CONTENT_TYPES else None


def install_ui(app: FastAPI, root: Path = STATIC_DIR) -> None:
    """Serve the UI's files from ``root`` at ``/`` (after every API route)."""
    root = root.resolve()

    async def ui_file(request: Request) -> Response:
        path = request.url.path
        if path == API_ROOT or path.startswith(f"{API_ROOT}/"):
            raise HTTPException(404)
        found = _file(root, path)
        if found is None:
            raise HTTPException(404)
        return FileResponse(found, headers=HEADERS, media_type=CONTENT_TYPES[found.suffix])

    app.add_api_route("/{path:path}", ui_file, methods=["GET", "HEAD"], include_in_schema=False)
