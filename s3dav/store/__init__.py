"""The bucket seen as folders and files: keys and names, listings, the overlay, metadata
caches, HEAD economy, the S3 client, commits, copy and delete. Knows nothing of WsgiDAV;
may import transfer (to send bodies) and errors.py, never dav or server.
"""
