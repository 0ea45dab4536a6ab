"""Direct downloads (issue 17): GET of a big file answers 302 to a presigned S3 URL.

For a share with `downloads: redirect`, a GET of a file of at least
`redirect_threshold` bytes is answered `302 Found` with a GetObject URL that
S3 honours for `redirect_expiry`: the bytes go from S3 to the client and none
pass through the gateway. The client sends its Range (and If-*) headers again
to S3, which answers them itself. HEAD, PROPFIND and smaller files are
unchanged. A file still in the write-back journal (not yet in S3) is served
by the gateway as before.

The URL carries the gateway's own answer headers as S3 response overrides:
the Content-Type it would serve, and `Content-Disposition: attachment` for
active content (safety.py), so a redirected HTML/SVG file downloads rather
than renders, on S3's origin as on ours. Only clients that can reach the S3
endpoint the gateway uses can follow the redirect: hence off by default.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from wsgidav import util
from wsgidav.mw.base_mw import BaseMiddleware

from s3dav.dav.safety import content_disposition, is_active_name, is_active_type

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DirectRule:
    """One share's direct-download settings."""

    threshold: int  # bytes: files at least this big are redirected
    expiry: int  # seconds the presigned URL is valid
    inline_active: bool = False  # the share's inline_active_content


def presign_params(bucket: str, key: str, name: str, content_type: str, rule: DirectRule) -> dict:
    """GetObject parameters of the presigned URL: the object, and the headers S3 must send."""
    params = {"Bucket": bucket, "Key": key, "ResponseContentType": content_type}
    if not rule.inline_active and (is_active_type(content_type) or is_active_name(name)):
        params["ResponseContentDisposition"] = content_disposition(name)
    return params


def wants_redirect(method: str, size: int | None, rule: DirectRule | None) -> bool:
    """Is this request one to redirect? Only GET, only files of at least the threshold."""
    return method == "GET" and rule is not None and size is not None and size >= rule.threshold


class DirectDownloads(BaseMiddleware):
    """WsgiDAV middleware (after authentication): the 302 above, for shares that want it."""

    def __init__(self, wsgidav_app, next_app, config):
        super().__init__(wsgidav_app, next_app, config)
        self.rules: dict[str, DirectRule] = config["s3dav"].get("direct_downloads", {})

    def is_disabled(self) -> bool:
        return not self.rules

    def __call__(self, environ, start_response):
        provider = environ.get("wsgidav.provider")
        rule = self.rules.get("/" + (getattr(provider, "share_path", "") or "").strip("/"))
        if rule is None or environ.get("REQUEST_METHOD") != "GET":
            return self.next_app(environ, start_response)
        res = provider.get_resource_inst(environ["PATH_INFO"], environ)
        info = getattr(res, "info", None)
        if res is None or res.is_collection or info is None:
            return self.next_app(environ, start_response)
        if not wants_redirect("GET", info.size, rule) or self._pending(res):
            return self.next_app(environ, start_response)
        tree = provider.tree
        params = presign_params(tree.bucket, res.key, res.name, res.get_content_type(), rule)
        if getattr(res, "version_id", None):  # an earlier version (dav/versions.py)
            params["VersionId"] = res.version_id
        url = tree.client.generate_presigned_url("get_object", Params=params, ExpiresIn=rule.expiry)
        start_response(
            "302 Found",
            [
                ("Location", url),
                ("Content-Length", "0"),
                ("Cache-Control", "no-store"),
                ("Date", util.get_rfc1123_time()),
            ],
        )
        return [b""]

    @staticmethod
    def _pending(res) -> bool:
        """Is the file still only in the write-back journal (S3 has not got it)?"""
        pending = res.tree.open_pending(res.key, res.info.etag)
        if pending is None:
            return False
        pending.close()
        return True
