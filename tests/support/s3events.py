"""S3 event notifications as a store sends them to the gateway's POST /_s3dav/events
(issue 15 item 3): MinIO's webhook body, and posting it with the events token."""

from __future__ import annotations

import json
from urllib.parse import quote_plus

TOKEN = "events-token-0123456789abcdef"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def minio_event(bucket: str, key: str, name: str = "s3:ObjectCreated:Put", etag: str = "") -> bytes:
    """A MinIO webhook body (top-level EventName and Key; the record's key QueryEscape'd)."""
    record = {
        "eventVersion": "2.0",
        "eventSource": "minio:s3",
        "awsRegion": "",
        "eventTime": "2024-06-01T10:00:00.123Z",
        "eventName": name,
        "userIdentity": {"principalId": "minioadmin"},
        "requestParameters": {"principalId": "minioadmin", "region": "", "sourceIPAddress": "::1"},
        "responseElements": {"x-amz-request-id": "17D9E5A1B2C3D4E5"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "Config",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": quote_plus(key), "size": 5, "eTag": etag, "sequencer": "17D9"},
        },
        "source": {"host": "::1", "port": "", "userAgent": "MinIO (linux; amd64)"},
    }
    return json.dumps({"EventName": name, "Key": f"{bucket}/{key}", "Records": [record]}).encode()


def post_event(gw, data: bytes, headers=None, query: str = ""):
    headers = BEARER if headers is None else headers
    return gw.request("POST", "/_s3dav/events" + query, data=data, headers=headers)
