"""The HTML shell of the web UI: one page whose script (``static/app.js``, no build step)
renders login, live sessions, recordings, replay, share links, audit log and users.

Every page carries a strict Content-Security-Policy (scripts only from this server, no
inline script) so that text from a recording's metadata can never run as code.
"""

from __future__ import annotations

from html import escape

__all__ = ["CSP", "page_html"]

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "media-src 'self' blob:; connect-src 'self' ws: wss:; worker-src 'self' blob:; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def page_html(title: str, body: str, *, script: str | None = "app.js", shared: bool = False) -> str:
    """The document: ``body`` (trusted HTML) inside the layout, then the UI's script."""
    scripts = ""
    if script is not None:
        scripts = ('<script src="/static/vendor/hls.min.js" defer></script>'
                   f'<script type="module" src="/static/{escape(script)}"></script>')
    mode = "shared" if shared else "app"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · fastrec</title>
<link rel="stylesheet" href="/static/app.css">
<link rel="icon" href="data:,">
</head><body data-mode="{mode}">
<header class="top"><a class="brand" href="/">fastrec</a><nav id="nav"></nav><span id="who"></span></header>
<main id="main">{body}</main>
{scripts}
</body></html>"""
