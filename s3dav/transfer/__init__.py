"""Moving bytes: streaming and multipart uploads, part buffers, spools, ranged readers,
after-PUT work, the content cache and write-back. Knows nothing of WsgiDAV or of store;
imports only its own modules and the standard library / boto3 types.
"""
