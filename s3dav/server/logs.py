"""Logging setup: plain lines or JSON, one line per record, never a secret."""

from __future__ import annotations

import json
import logging
import re
import sys
import time

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# A share link's token opens its link: the log keeps its id, never its signature.
_LINK_TOKEN = re.compile(r"(/_s3dav/s/[A-Za-z0-9_-]{22})\.[^/?]*")


def log_path(wsgi_path: str) -> str:
    """A WSGI path (PEP 3333: its bytes decoded as latin-1) as the UTF-8 text the client sent.

    `/caf\xc3\xa9.txt` becomes `/café.txt`; bytes that are no UTF-8 and control
    characters are shown escaped (`\\xff`, `\\x0a`), so one request stays one log line.
    """
    try:
        text = wsgi_path.encode("latin-1").decode("utf-8", errors="backslashreplace")
    except UnicodeEncodeError:  # not a PEP 3333 string: already text
        text = wsgi_path
    text = _LINK_TOKEN.sub(r"\1.-", text)
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        access = getattr(record, "access", None)
        if isinstance(access, dict):
            doc.update(access)
        if record.exc_info:
            doc["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(doc, ensure_ascii=False)


def configure(level: str = "info", fmt: str = "plain") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug", "wsgidav", "cheroot"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
