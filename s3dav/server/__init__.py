"""The HTTP shell around WsgiDAV: the WSGI middleware, auth and login throttling, client
addresses, path and XML guards, logs, metrics, memory tuning, cheroot tweaks. May import
dav's public names (the environ keys it reads); never imported by store or transfer.
"""
