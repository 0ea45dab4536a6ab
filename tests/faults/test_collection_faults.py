"""MOVE/COPY of a folder failing part-way (docs/SEMANTICS.md, *Under faults*): 207, nothing lost."""

from __future__ import annotations

from tests.support.faultproxy import fault_config
from tests.support.helpers import hrefs, s3_bytes

FILES = {"d/a.txt": b"alpha", "d/b.txt": b"bravo", "d/sub/c.txt": b"charlie", "d/z.txt": b"z"}


def keys(s3, bucket: str) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def fail_copies_of(*sources: str):
    def rule(seen) -> bool:
        src = seen.headers.get("x-amz-copy-source", "")
        return seen.operation == "CopyObject" and any(src.endswith(s) for s in sources)

    return rule


def test_move_failing_part_way_answers_207_keeps_sources_and_a_repeat_completes(
    make_gateway, bucket, s3, proxy
):
    for k, v in FILES.items():
        s3.put_object(Bucket=bucket, Key=k, Body=v)
    gw = make_gateway(bucket, config=fault_config(proxy, bucket, max_attempts=2))
    proxy.fail_when = fail_copies_of("d/b.txt", "d/sub/c.txt")
    r = gw.request("MOVE", "/d/", headers={"Destination": gw.url + "/e/"})
    assert r.status_code == 207, r.text[:500]
    failed = set(hrefs(r.text))
    assert failed == {"/d/b.txt", "/d/sub/c.txt"}, r.text
    assert r.text.count("503 Service Unavailable") == 2
    # No source was deleted: every one is still there with its bytes.
    for k, v in FILES.items():
        assert s3_bytes(s3, bucket, k) == v
    # What was copied is whole.
    assert s3_bytes(s3, bucket, "e/a.txt") == b"alpha"
    assert "e/b.txt" not in keys(s3, bucket)
    # The same MOVE again, with S3 healthy, completes the job.
    proxy.fail_when = None
    r = gw.request("MOVE", "/d/", headers={"Destination": gw.url + "/e/"})
    assert r.status_code in (201, 204), r.text[:500]
    assert not any(k.startswith("d/") for k in keys(s3, bucket))
    for k, v in FILES.items():
        assert s3_bytes(s3, bucket, "e/" + k[2:]) == v
    assert gw.request("GET", "/e/sub/c.txt").content == b"charlie"
    assert gw.request("GET", "/d/a.txt").status_code == 404


def test_copy_failing_part_way_answers_207_and_a_repeat_completes(make_gateway, bucket, s3, proxy):
    for k, v in FILES.items():
        s3.put_object(Bucket=bucket, Key=k, Body=v)
    gw = make_gateway(bucket, config=fault_config(proxy, bucket, max_attempts=2))
    proxy.fail_when = fail_copies_of("d/z.txt")
    r = gw.request("COPY", "/d/", headers={"Destination": gw.url + "/e/"})
    assert r.status_code == 207, r.text[:500]
    assert set(hrefs(r.text)) == {"/d/z.txt"}
    proxy.fail_when = None
    r = gw.request("COPY", "/d/", headers={"Destination": gw.url + "/e/"})
    assert r.status_code in (201, 204)
    for k, v in FILES.items():
        assert s3_bytes(s3, bucket, k) == v
        assert s3_bytes(s3, bucket, "e/" + k[2:]) == v
