"""The web UI: a single-page app built from gateway/ui/ (see docs/ui.md).

Every page path of Conductor's UI answers the app's index.html, so its links and
bookmarks carry over; the browser-side router picks the page. The built assets live
under `/ui-assets/`, and `/api/...` stays the REST API. When the app has not been
built (`make ui`), the pages answer 503 with how to build it rather than a 404 or 500.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

routes = web.RouteTableDef()

DIST = Path(__file__).resolve().parent / "ui" / "dist"
ASSETS_PREFIX = "/ui-assets"

# Conductor UI's routes; each is the same app.
PAGES = (
    "/",
    "/executions",
    "/execution/{workflowId}",
    "/workflowDefs",
    "/workflowDef/{name}",
    "/workflowDef/{name}/{version}",
    "/taskDefs",
    "/taskDef/{name}",
    "/eventHandlerDefs",
    "/taskQueue",
    "/taskQueue/{name}",
    "/workbench",
)

NOT_BUILT = """<!doctype html>
<html><head><meta charset="utf-8"><title>Podium: UI not built</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>The Podium UI has not been built</h1>
<p>This gateway found no <code>{dist}/index.html</code>. Build it from the repository root with</p>
<pre>make ui</pre>
<p>(which runs <code>npm ci &amp;&amp; npm run build</code> in <code>gateway/ui</code>; <code>make run</code> and
<code>make test</code> do it for you). The REST API is unaffected: it is under <a href="/api/health">/api</a>.</p>
</body></html>
"""


async def index(request: web.Request) -> web.StreamResponse:
    page = DIST / "index.html"
    if not page.is_file():
        return web.Response(status=503, text=NOT_BUILT.format(dist=DIST), content_type="text/html")
    # index.html names the hashed assets of the current build: never cache it.
    return web.FileResponse(page, headers={"Cache-Control": "no-cache"})


@routes.get(ASSETS_PREFIX + "/{path:.+}")
async def asset(request: web.Request) -> web.StreamResponse:
    root = (DIST / "ui-assets").resolve()
    path = (root / request.match_info["path"]).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise web.HTTPNotFound()
    # Vite puts a content hash in every asset name, so a name never changes meaning.
    return web.FileResponse(path, headers={"Cache-Control": "public, max-age=31536000, immutable"})


for _page in PAGES:
    routes.get(_page)(index)
