"""The WebDAV face: WsgiDAV's provider and resources, PROPFIND/multistatus, dead
properties, the listing page. May import store, transfer and the top-level model modules;
never server.

provider.py resolves a share's paths to files.py / folders.py resources (their shared
base: common.py); conventions.py holds the client conventions (X-OC-Mtime, checksums,
Win32 times), request.py what a request keeps in its environ, wsgidav_compat.py every
WsgiDAV internal the room relies on.
"""
