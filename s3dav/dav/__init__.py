"""The WebDAV face: WsgiDAV's provider and resources, PROPFIND/multistatus, dead
properties, the listing page. May import store, transfer and the top-level model modules;
never server.
"""
