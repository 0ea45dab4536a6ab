"""The page a browser gets for GET on a folder, and the `?davmount` file (RFC 4709).

It replaces WsgiDAV's directory browser: one page (inline CSS by hash), folders
first, sizes, dates in UTC, download links, built from the one listing the folder
costs anyway. It lists and downloads with script off; with script on, the
gateway's own `/_s3dav/app.js` (webui.py) adds upload, new folder, rename,
delete and sorting through plain WebDAV requests (progressive enhancement). It sits after the
authenticator in WsgiDAV's stack, so it sees only what the user may see.

A browser's GET of a folder without its trailing slash is redirected to the
slash form (relative links would resolve against the parent otherwise);
WebDAV methods are not. With no share at `/`, `GET /` lists the shares the
user may open (`ShareIndex`). Both pages get safety.py's page headers.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from urllib.parse import quote

from wsgidav import util
from wsgidav.mw.base_mw import BaseMiddleware

from s3dav.dav.safety import OWN_PAGE, OWN_SCRIPT
from s3dav.dav.webui import APP_JS, load_asset, script_tag

DAVMOUNT = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<dm:mount xmlns:dm="http://purl.org/NET/webdav/mount">\n'
    "  <dm:url>{url}</dm:url>\n"
    "</dm:mount>\n"
)

# The page's one inline style (assets/page.css), allowed by its hash in the page CSP.
STYLE = load_asset("page.css").body.decode()


@dataclass(frozen=True)
class Row:
    """One line of the listing page."""

    name: str
    href: str
    is_dir: bool
    size: int | None
    modified: float | None


def human_size(size: int | None) -> str:
    """Sizes the way people read them: 0 B, 999 B, 1.5 KiB, 12.0 MiB."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def format_time(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(t)) if t is not None else ""


def sort_rows(rows: list[Row]) -> list[Row]:
    """Folders first, then files; each group by name, ignoring case."""
    return sorted(rows, key=lambda r: (not r.is_dir, r.name.casefold(), r.name))


def breadcrumbs(display_path: str) -> str:
    """`/a/b/` as links to `/`, `/a/` and the current `b` (escaped, URL-quoted)."""
    esc = html.escape
    parts = [p for p in display_path.split("/") if p]
    crumbs = ['<a href="/">/</a>' if parts else "<span>/</span>"]
    for i, part in enumerate(parts):
        if i == len(parts) - 1:
            crumbs.append(f'<span aria-current="page">{esc(part)}</span>')
        else:
            href = quote("/" + "/".join(parts[: i + 1]) + "/")
            crumbs.append(f'<a href="{esc(href)}">{esc(part)}</a>')
    return crumbs[0] + '<span class="sep">/</span>'.join(crumbs[1:])


def render_row(row: Row) -> str:
    """One `<tr>`: the name link, size (bytes in the title), date, download link.

    The data- attributes let the script sort and act without another request.
    """
    esc = html.escape
    label = row.name + ("/" if row.is_dir else "")
    size = "" if row.is_dir else human_size(row.size)
    title = "" if row.size is None or row.is_dir else f' title="{row.size} bytes"'
    download = (
        "" if row.is_dir else f'<a class="download" href="{esc(row.href)}" download>download</a>'
    )
    data = f' data-name="{esc(row.name)}"'
    if not row.is_dir and row.size is not None:
        data += f' data-size="{row.size}"'
    if row.modified is not None:
        data += f' data-mtime="{int(row.modified)}"'
    return (
        f'<tr class="{"dir" if row.is_dir else "file"}"{data}>'
        f'<td><a class="name" href="{esc(row.href)}">{esc(label)}</a></td>'
        f'<td class="size"{title}>{size}</td>'
        f'<td class="date">{format_time(row.modified)}</td><td class="acts">{download}</td></tr>'
    )


# What only the script uses (hidden until it runs: without script the page lists and
# downloads as it always did). Ids and classes are the script's (assets/app.js).
TOOLBAR = """<div id="toolbar" class="toolbar" hidden>
<label class="btn primary" for="pick-files" id="upload-files">Upload files</label>
<input type="file" id="pick-files" class="pick" multiple>
<label class="btn" for="pick-folder" id="upload-folder">Upload folder</label>
<input type="file" id="pick-folder" class="pick" webkitdirectory multiple>
<button type="button" class="btn" id="new-folder">New folder</button>
<span class="hint" id="drop-hint">or drop files and folders onto this page</span>
<span class="badge" id="readonly" hidden>read-only share</span>
</div>
<p id="status" class="status" role="status" hidden></p>
<section id="transfers" class="transfers" hidden aria-label="Uploads">
<div class="overall"><span id="overall-text"></span><progress id="overall" max="1" value="0">
</progress><button type="button" class="link" id="transfers-close">Close</button></div>
<ul id="transfer-list"></ul>
</section>
<div id="dropzone" class="dropzone" hidden>Drop to upload here</div>
<dialog id="ask"><p id="ask-title"></p>
<input id="ask-input" type="text" autocomplete="off" spellcheck="false">
<p class="buttons"><button type="button" class="btn" id="ask-cancel">Cancel</button>
<button type="button" class="btn primary" id="ask-ok">OK</button></p></dialog>"""


def render_page(
    display_path: str,
    base_href: str,
    rows: list[Row],
    *,
    is_root: bool,
    writable: bool = True,
    links: bool = False,
    script: str = "",
) -> str:
    """The whole HTML page; every name and link is escaped here.

    `script` is the `<script>` tag of the web client (webui.py), or "" for none;
    `links` says whether it offers "Share…" (share links are on).
    """
    esc = html.escape
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',  # no /favicon.ico request (an S3 HEAD)
        f"<title>Index of {esc(display_path)}</title>",
        f"<style>{STYLE}</style></head>",
        f'<body data-base="{esc(base_href)}" data-writable="{"1" if writable else "0"}"'
        f' data-links="{"1" if links else "0"}"><main>',
        f'<header class="top"><nav class="crumbs" aria-label="Folder">'
        f"{breadcrumbs(display_path)}</nav>",
        '<a id="davmount" href="'
        + esc(base_href + "?davmount")
        + '" title="Open this folder in a WebDAV client">Mount this folder (davmount)</a>'
        "</header>",
        f'<h1 class="sub">Index of {esc(display_path)}</h1>',
        TOOLBAR if script else "",
        '<table id="listing"><thead><tr><th class="name">Name</th><th class="size">Size</th>'
        '<th class="date">Last modified (UTC)</th><th class="acts"></th></tr></thead><tbody>',
    ]
    if not is_root:
        lines.append(
            '<tr class="dir up"><td><a href="../">../</a></td><td></td><td></td><td></td></tr>'
        )
    lines += [render_row(row) for row in sort_rows(rows)]
    if not rows:
        lines.append('<tr class="empty"><td colspan="4">This folder is empty.</td></tr>')
    lines += [
        "</tbody></table>",
        f'<footer id="count">{len(rows)} item{"s" if len(rows) != 1 else ""}'
        " &middot; s3dav</footer>",
        "</main>",
        script,
        "</body></html>",
    ]
    return "\n".join(line for line in lines if line)


def collection_rows(res, base_href: str) -> list[Row]:
    rows = []
    for member in res.get_member_list():
        if member is None:
            continue
        name = member.name
        if member.is_collection:
            href = base_href + quote(name) + "/"
            rows.append(Row(name, href, True, None, member.get_last_modified()))
        else:
            href = base_href + quote(name)
            rows.append(
                Row(name, href, False, member.get_content_length(), member.get_last_modified())
            )
    return rows


class DirBrowser(BaseMiddleware):
    """GET/HEAD on a collection: the listing page, or `?davmount` for WebDAV clients."""

    def is_disabled(self) -> bool:
        return False

    def __call__(self, environ, start_response):
        method = environ["REQUEST_METHOD"]
        provider = environ.get("wsgidav.provider")
        if method not in ("GET", "HEAD") or provider is None:
            return self.next_app(environ, start_response)
        path = environ["PATH_INFO"]
        res = provider.get_resource_inst(path, environ)
        if res is None or not res.is_collection:
            return self.next_app(environ, start_response)

        share = (provider.share_path or "").rstrip("/")
        base_href = quote(share + "/" + res.path.strip("/")).rstrip("/") + "/"
        if not environ.get("PATH_INFO", "").endswith("/"):
            return redirect(environ, start_response, base_href)
        if "davmount" in environ.get("QUERY_STRING", "").split("&"):
            url = util.make_complete_url(environ).split("?", 1)[0]
            if not url.endswith("/"):
                url += "/"
            body = DAVMOUNT.format(url=html.escape(url)).encode()
            ctype = "application/davmount+xml"
        else:
            display = share + "/" + res.path.strip("/")
            display = display if display.endswith("/") else display + "/"
            rows = collection_rows(res, base_href)
            body = render_page(
                display,
                base_href,
                rows,
                is_root=display == "/",
                writable=not (
                    getattr(provider, "readonly", False) or getattr(res, "read_only", False)
                ),
                links=links_enabled(self.config),
                script=script_tag(),
            ).encode()
            ctype = "text/html; charset=utf-8"
            environ[OWN_PAGE] = STYLE
            environ[OWN_SCRIPT] = APP_JS.csp_source
        start_response(
            "200 OK",
            [
                ("Content-Type", ctype),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "private, no-cache"),
                ("Date", util.get_rfc1123_time()),
            ],
        )
        return [b""] if method == "HEAD" else [body]


def links_enabled(config: dict) -> bool:
    """Are share links on (server/sharelinks.py answers `/_s3dav/links`)? Then rows offer them."""
    settings = config.get("s3dav", {}).get("share_links")
    return bool(settings is not None and settings.key and settings.store is not None)


def redirect(environ, start_response, location: str):
    """301 to `location` (an absolute path), the request's query string kept."""
    query = environ.get("QUERY_STRING", "")
    target = location + ("?" + query if query else "")
    body = f"301 Moved Permanently: {target}\n".encode()
    start_response(
        "301 Moved Permanently",
        [
            ("Location", target),
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Date", util.get_rfc1123_time()),
        ],
    )
    return [b""] if environ["REQUEST_METHOD"] == "HEAD" else [body]


def shares_for(user: str, share_users: dict[str, list[str]]) -> list[str]:
    """The share paths `user` (or "" for anonymous) may open, in path order."""
    return sorted(
        path for path, users in share_users.items() if "anonymous" in users or user in users
    )


def render_share_index(user: str, shares: list[str]) -> str:
    """The page at `/` when no share is there: one link per share the user may open."""
    esc = html.escape
    who = f"Logged in as {esc(user)}." if user else 'Anonymous. <a href="/?login">Log in</a>'
    items = "\n".join(
        f'<tr class="dir"><td><a class="name" href="{esc(quote(p.rstrip("/") + "/"))}">'
        f"{esc(p.rstrip('/') + '/')}</a></td></tr>"
        for p in shares
    )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<link rel="icon" href="data:,">',
            "<title>Shares</title>",
            f"<style>{STYLE}</style></head><body><main>",
            "<h1>Shares</h1>",
            f'<p class="links" id="user">{who}</p>',
            '<table id="listing"><thead><tr><th>Share</th></tr></thead><tbody>',
            items,
            "</tbody></table>",
            f"<footer>{len(shares)} share{'s' if len(shares) != 1 else ''} &middot; s3dav</footer>",
            "</main></body></html>",
        ]
    )


class ShareIndex(BaseMiddleware):
    """GET/HEAD `/` with no share there: the shares this user may open (after auth)."""

    def __init__(self, wsgidav_app, next_app, config):
        super().__init__(wsgidav_app, next_app, config)
        self.share_users: dict[str, list[str]] = config["s3dav"]["share_users"]

    def is_disabled(self) -> bool:
        return "/" in self.share_users

    def __call__(self, environ, start_response):
        if (
            environ.get("wsgidav.provider") is not None
            or environ["REQUEST_METHOD"] not in ("GET", "HEAD")
            or environ.get("PATH_INFO", "") not in ("", "/")
        ):
            return self.next_app(environ, start_response)
        user = environ.get("wsgidav.auth.user_name") or ""
        body = render_share_index(user, shares_for(user, self.share_users)).encode()
        environ[OWN_PAGE] = STYLE
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "private, no-cache"),
                ("Vary", "Authorization"),
                ("Date", util.get_rfc1123_time()),
            ],
        )
        return [b""] if environ["REQUEST_METHOD"] == "HEAD" else [body]
