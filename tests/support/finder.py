"""What macOS Finder (WebDAVFS) sends, for replays of its requests: its User-Agent and the
PROPFIND body it lists folders with (shared by tests/clients and tests/integration)."""

FINDER_UA = "WebDAVFS/3.0.0 (03008000) Darwin/22.1.0 (arm64)"

FINDER_PROPS = (
    b'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>'
    b"<D:getlastmodified/><D:getcontentlength/><D:creationdate/><D:resourcetype/>"
    b"</D:prop></D:propfind>"
)
