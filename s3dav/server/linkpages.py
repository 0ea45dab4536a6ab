"""The HTML of the share-link pages (issue 17): pure functions, every value escaped.

No script anywhere (the CSP forbids it); forms post to the page itself.
"""

from __future__ import annotations

import html
import time
from urllib.parse import quote

from s3dav.dav.browser import STYLE as LISTING_STYLE
from s3dav.dav.browser import Row, human_size, sort_rows
from s3dav.dav.safety import style_hash

STYLE = (
    LISTING_STYLE
    + """form.inline{display:inline}
.box{border:1px solid #ccc;padding:.6em 1em;margin:1em 0;background:#f8f8f8}
.url{font-family:monospace;word-break:break-all}
label{display:block;margin:.4em 0}
"""
)


def page_headers(*, forms_to_self: bool, same_origin_referrer: bool) -> list[tuple[str, str]]:
    """The gateway's own page headers (safety.page_headers), forms allowed to post here.

    The links page sends its Referer to itself (`same-origin`) so that its POSTs
    carry a real Origin: with `no-referrer` Chromium sends `Origin: null`.
    """
    form_action = "'self'" if forms_to_self else "'none'"
    csp = (
        f"default-src 'none'; style-src {style_hash(STYLE)}; img-src 'self';"
        f" base-uri 'none'; form-action {form_action}; frame-ancestors 'none'"
    )
    return [
        ("Content-Security-Policy", csp),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin" if same_origin_referrer else "no-referrer"),
        ("X-Content-Type-Options", "nosniff"),
        ("Cache-Control", "private, no-store"),
    ]


def _page(title: str, body: list[str]) -> str:
    esc = html.escape
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{esc(title)}</title>",
            f"<style>{STYLE}</style></head><body>",
            *body,
            "<footer>s3dav</footer>",
            "</body></html>",
        ]
    )


def when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t))


def create_form(csrf: str, path: str, is_folder: bool, writable: bool, max_days: float) -> str:
    """The form that makes a link for `path` (a WebDAV path, share included)."""
    esc = html.escape
    kinds = ['<option value="file">download link</option>']
    if is_folder:
        kinds = ['<option value="folder">read-only folder listing</option>']
        if writable:
            kinds.append('<option value="dropbox">drop box (upload only)</option>')
    return "\n".join(
        [
            '<form id="create" class="box" method="post" action="/_s3dav/links">',
            f"<h2>New link for {esc(path)}</h2>",
            '<input type="hidden" name="action" value="create">',
            f'<input type="hidden" name="csrf" value="{esc(csrf)}">',
            f'<input type="hidden" name="path" value="{esc(path)}">',
            f'<label>Kind <select name="kind">{"".join(kinds)}</select></label>',
            '<label>Expires in <input name="expires" value="7d" size="6">'
            f" (like 30m, 12h, 7d; at most {max_days:g} days)</label>",
            '<label>Password (optional) <input type="password" name="password"'
            ' autocomplete="new-password"></label>',
            '<button type="submit">Create link</button>',
            "</form>",
        ]
    )


def links_page(
    user: str,
    links: list[tuple[str, str, str, int, bool, str]],
    csrf: str,
    *,
    form: str = "",
    created_url: str = "",
    message: str = "",
) -> str:
    """The user's links: (id, path, kind, expires, has password, url) each, newest first."""
    esc = html.escape
    body = ["<h1>Share links</h1>", f'<p class="links" id="user">Logged in as {esc(user)}.</p>']
    if message:
        body.append(f'<p class="box" id="message">{esc(message)}</p>')
    if created_url:
        body.append(
            '<p class="box" id="created">New link: '
            f'<a class="url" id="created-url" href="{esc(created_url)}">{esc(created_url)}</a></p>'
        )
    if form:
        body.append(form)
    body.append(
        '<table id="links"><thead><tr><th>Path</th><th>Kind</th><th>Expires</th>'
        "<th>Password</th><th>Link</th><th></th></tr></thead><tbody>"
    )
    for link_id, path, kind, expires, has_password, url in links:
        body.append(
            f'<tr class="link" data-id="{esc(link_id)}"><td>{esc(path)}</td><td>{esc(kind)}</td>'
            f"<td>{when(expires)}</td><td>{'yes' if has_password else 'no'}</td>"
            f'<td><a class="url" href="{esc(url)}">{esc(url)}</a></td><td>'
            '<form class="inline" method="post" action="/_s3dav/links">'
            '<input type="hidden" name="action" value="revoke">'
            f'<input type="hidden" name="csrf" value="{esc(csrf)}">'
            f'<input type="hidden" name="id" value="{esc(link_id)}">'
            '<button type="submit">Revoke</button></form></td></tr>'
        )
    body += ["</tbody></table>", f"<p>{len(links)} link{'s' if len(links) != 1 else ''}</p>"]
    return _page("Share links", body)


def password_page(action: str, wrong: bool) -> str:
    esc = html.escape
    return _page(
        "Password needed",
        [
            "<h1>This link needs a password</h1>",
            '<p class="box" id="wrong">Wrong password.</p>' if wrong else "",
            f'<form id="password" method="post" action="{esc(action)}">',
            '<label>Password <input type="password" name="password" autofocus></label>',
            '<button type="submit">Open</button></form>',
        ],
    )


def folder_page(title: str, base_href: str, rows: list[Row], *, is_root: bool) -> str:
    """A shared folder, read-only: names, sizes, dates, download links (all below the link)."""
    esc = html.escape
    body = [
        f"<h1>{esc(title)}</h1>",
        '<table id="listing"><thead><tr><th>Name</th><th class="size">Size</th>'
        '<th class="date">Last modified</th><th></th></tr></thead><tbody>',
    ]
    if not is_root:
        body.append('<tr class="dir up"><td><a href="../">../</a></td><td></td><td></td><td></td>')
    for row in sort_rows(rows):
        href = base_href + quote(row.name) + ("/" if row.is_dir else "")
        label = row.name + ("/" if row.is_dir else "")
        size = "" if row.is_dir else human_size(row.size)
        dl = "" if row.is_dir else f'<a class="download" href="{esc(href)}" download>download</a>'
        date = when(row.modified) if row.modified is not None else ""
        body.append(
            f'<tr class="{"dir" if row.is_dir else "file"}"><td><a class="name" href="{esc(href)}">'
            f'{esc(label)}</a></td><td class="size">{size}</td><td class="date">{date}</td>'
            f"<td>{dl}</td></tr>"
        )
    body.append("</tbody></table>")
    return _page(title, body)


def dropbox_page(action: str, uploaded: str = "") -> str:
    esc = html.escape
    return _page(
        "Drop box",
        [
            "<h1>Drop box</h1>",
            "<p>Files sent here are uploaded; nothing here can be listed or read.</p>",
            f'<p class="box" id="uploaded">Uploaded {esc(uploaded)}.</p>' if uploaded else "",
            f'<form id="upload" method="post" action="{esc(action)}"'
            ' enctype="multipart/form-data">',
            '<label>File <input type="file" name="file"></label>',
            '<button type="submit">Upload</button></form>',
        ],
    )
