"""Moving bytes: streaming and multipart uploads, part buffers, spools, ranged readers,
after-PUT work, the content cache and write-back. Knows nothing of WsgiDAV, dav, server or
store; imports its own modules, the top-level pure errors.py, the standard library and boto3.
"""
