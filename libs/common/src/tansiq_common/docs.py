"""`/docs`: Swagger UI served by the service itself, never from a CDN.

The services run on networks without internet access, where FastAPI's default page (script and
stylesheet from a public CDN) stays blank. The files come from the `swagger-ui-bundle-v2`
package (Swagger UI, Apache-2.0; its licence is served at `/docs/assets/<version>/LICENSE`),
pinned in requirements.lock. Their URLs carry Swagger UI's version, so browsers may cache them
for good. ReDoc is not served.
"""

from __future__ import annotations

from importlib import metadata, resources
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from starlette.responses import FileResponse, Response

DOCS_URL = "/docs"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
ASSETS_URL = "/docs/assets"
DISTRIBUTION = "swagger-ui-bundle-v2"


def _swagger_ui_dir() -> Path:
    """The package's `vendor/swagger-ui-<version>`, its version being the package's own."""
    version = metadata.version(DISTRIBUTION)
    folder = Path(str(resources.files("swagger_ui_bundle") / "vendor" / f"swagger-ui-{version}"))
    if not folder.is_dir():
        raise FileNotFoundError(f"{DISTRIBUTION} {version} has no {folder}")
    return folder


SWAGGER_UI_DIR = _swagger_ui_dir()
SWAGGER_UI_VERSION = SWAGGER_UI_DIR.name.removeprefix("swagger-ui-")

# Only what the page loads, and the licence; nothing else of the package is reachable.
_MEDIA_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
}
_IMMUTABLE = "public, max-age=31536000, immutable"


def licence_file() -> Path:
    """Swagger UI's licence as the package ships it."""
    files = metadata.files(DISTRIBUTION) or []
    for entry in files:
        if entry.name in ("LICENSE", "LICENSE.txt") and ".dist-info" in str(entry):
            return Path(str(entry.locate()))
    raise FileNotFoundError(f"{DISTRIBUTION} ships no LICENSE")


def asset_url(root_path: str, name: str) -> str:
    return f"{root_path}{ASSETS_URL}/{SWAGGER_UI_VERSION}/{name}"


def install_docs(app: FastAPI) -> None:
    """Serve /docs, its OAuth2 redirect page and the Swagger UI files; the app must have been
    created with ``docs_url=None, redoc_url=None``. Plain routes, like FastAPI's own docs: no
    operation in the OpenAPI document, no access rule (the page and Swagger UI are public; every
    call made from it carries the caller's token)."""
    title = f"{app.title} API"
    licence = licence_file()
    missing = [name for name in _MEDIA_TYPES if not (SWAGGER_UI_DIR / name).is_file()]
    if missing:  # a broken install is a start-up error, not a blank page later
        raise FileNotFoundError(f"Swagger UI files missing in {SWAGGER_UI_DIR}: {missing}")

    async def swagger_ui(request: Request) -> Response:
        # Behind a gateway that strips a path prefix, every URL keeps the prefix.
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=title,
            swagger_js_url=asset_url(root, "swagger-ui-bundle.js"),
            swagger_css_url=asset_url(root, "swagger-ui.css"),
            swagger_favicon_url=asset_url(root, "favicon-32x32.png"),
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_URL}",
        )

    async def swagger_ui_redirect(request: Request) -> Response:
        return get_swagger_ui_oauth2_redirect_html()

    async def swagger_ui_asset(request: Request) -> Response:
        version, name = request.path_params["version"], request.path_params["name"]
        if version != SWAGGER_UI_VERSION:
            raise HTTPException(404)
        if name == "LICENSE":
            return FileResponse(licence, media_type="text/plain; charset=utf-8")
        media_type = _MEDIA_TYPES.get(name)
        if media_type is None:
            raise HTTPException(404)
        return FileResponse(
            SWAGGER_UI_DIR / name, media_type=media_type, headers={"Cache-Control": _IMMUTABLE}
        )

    app.add_route(DOCS_URL, swagger_ui, include_in_schema=False)
    app.add_route(OAUTH2_REDIRECT_URL, swagger_ui_redirect, include_in_schema=False)
    app.add_route(f"{ASSETS_URL}/{{version}}/{{name}}", swagger_ui_asset, include_in_schema=False)
