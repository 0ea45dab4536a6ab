"""Request bodies shared by the security tests: a plain PROPFIND and hostile XML."""

PROPFIND_BODY = b'<?xml version="1.0"?><propfind xmlns="DAV:"><allprop/></propfind>'


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<propfind xmlns="DAV:"><prop><displayname>&lol3;</displayname></prop></propfind>"""


EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE p [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<propfind xmlns="DAV:"><prop><displayname>&xxe;</displayname></prop></propfind>"""


BIG_XML = (
    b'<?xml version="1.0"?><propfind xmlns="DAV:"><prop>'
    + b"<x:n xmlns:x='urn:x'/>" * 4000
    + b"</prop></propfind>"
)  # ~88 KB > 64 KiB


LOCKINFO = (
    '<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:">'
    "<D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
    "<D:owner>{owner}</D:owner></D:lockinfo>"
)
