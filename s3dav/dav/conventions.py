"""Client conventions beyond RFC 4918: ownCloud/rclone mtimes and checksums, Win32 times.

- X-OC-Mtime on PUT/COPY/MOVE/MKCOL sets a file's modification time (rclone, ownCloud).
- <oc:checksums> in PROPFIND and `OC-Checksum` on GET/HEAD carry the MD5.
- PROPPATCH of getlastmodified, <d:lastmodified>, <oc:lastmodified> and the Win32
  times (WsgiDAV's emulate_win32_lastmod hotfix) all end in `requested_time`.
- If-Match / If-None-Match of a PUT are passed on to S3 as conditional writes.
"""

from __future__ import annotations

import unicodedata
from email.utils import parsedate_to_datetime

from wsgidav.dav_error import HTTP_BAD_REQUEST, DAVError
from wsgidav.xml_tools import etree

from s3dav.dav.request import RESOLVED
from s3dav.store.keys import parse_mtime, representable_time

OC_NS = "{http://owncloud.org/ns}"
OC_CHECKSUMS = OC_NS + "checksums"
# PROPPATCH names that set the modification time besides {DAV:}getlastmodified
# (handled by WsgiDAV's mutable_live_props) and the Win32 ones (its hotfix):
# ownCloud/Nextcloud and newer rclone send <d:lastmodified>epoch</d:lastmodified>.
MTIME_PROPS = ("{DAV:}lastmodified", OC_NS + "lastmodified")


def checksums_element(md5_hex: str):
    """<oc:checksums><oc:checksum>MD5:hex</oc:checksum></oc:checksums>.

    rclone (owncloud vendor) lower-cases the text, splits it on spaces and
    takes what follows `md5:` / `sha1:`.
    """
    el = etree.Element(OC_CHECKSUMS)
    etree.SubElement(el, OC_NS + "checksum").text = f"MD5:{md5_hex}"
    return el


def client_mtime(environ: dict) -> float | None:
    """The modification time a client asked for with X-OC-Mtime (rclone, ownCloud).

    400 when it is no number or no representable time (keys.MAX_TIME); the error
    line names the request's path (server/errorpages.py).
    """
    value = environ.get("HTTP_X_OC_MTIME")
    if value is None:
        return None
    t = parse_mtime(value)
    if t is None:
        raise DAVError(
            HTTP_BAD_REQUEST,
            f"invalid X-OC-Mtime header: {value[:40]!r} (epoch seconds from 1970 to 9999 expected)",
        )
    return t


def parse_time_value(text: str | None) -> float | None:
    """A time from PROPPATCH: RFC 1123 (getlastmodified, Win32 times) or epoch seconds.

    None when unreadable or outside the representable range (keys.representable_time).
    """
    if not text:
        return None
    text = text.strip()
    t = parse_mtime(text)
    if t is not None:
        return t
    try:
        return representable_time(parsedate_to_datetime(text).timestamp())
    except (TypeError, ValueError, OverflowError):
        pass
    try:
        from datetime import datetime

        return representable_time(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
    except (ValueError, OverflowError):
        return None


def checksum_header(environ: dict) -> str | None:
    """`OC-Checksum` for a GET/HEAD answered from a file this request resolved.

    ownCloud clients check downloads against it. WsgiDAV has shifted PATH_INFO
    to the share by the time the response starts; the memo holds the file.
    """
    path = "/" + environ.get("PATH_INFO", "").strip("/")
    res = (environ.get(RESOLVED) or {}).get(unicodedata.normalize("NFC", path))
    if res is not None and not res.is_collection and res.info is not None and res.info.md5:
        return f"MD5:{res.info.md5}"
    return None


def write_conditions(environ: dict) -> dict[str, str]:
    """If-Match / If-None-Match of a PUT, as S3 conditional-write parameters.

    WsgiDAV has already checked them against what the gateway knows; passing
    them on makes S3 check them again at the moment of the write, so that they
    hold against writers elsewhere (other replicas, other tools). S3 takes one
    ETag for IfMatch and only `*` for IfNoneMatch; other forms stay WsgiDAV's.
    """
    out: dict[str, str] = {}
    if_match = (environ.get("HTTP_IF_MATCH") or "").strip()
    if if_match and if_match != "*" and "," not in if_match:
        out["IfMatch"] = if_match.removeprefix("W/")
    if (environ.get("HTTP_IF_NONE_MATCH") or "").strip() == "*":
        out["IfNoneMatch"] = "*"
    return out


def requested_time(time_stamp, path: str) -> float:
    """The time a PROPPATCH or header asks for, or 400 naming the path and the bad value."""
    if isinstance(time_stamp, str) or time_stamp is None:
        t = parse_time_value(time_stamp)
    else:
        t = representable_time(float(time_stamp))
    if t is None:
        shown = time_stamp[:40] if isinstance(time_stamp, str) else time_stamp
        raise DAVError(
            HTTP_BAD_REQUEST,
            f"bad time value {shown!r} for {path} (a date from 1970 to 9999 expected)",
        )
    return t
