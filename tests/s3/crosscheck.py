"""crosscheck.py — an independent S3 client (Debian's botocore) checks that
what Lakehouse wrote are ordinary S3 objects, and writes one for Lakehouse to read.

    python3 tests/s3/crosscheck.py ENDPOINT BUCKET PREFIX EXPECTED_JSON

EXPECTED_JSON maps keys (under PREFIX) to their expected sha256. Prints one
JSON line: {"listed": [...], "checked": n, "written": key}.
"""
import hashlib
import json
import sys

import botocore.session


def main():
    endpoint, bucket, prefix, expected_path = sys.argv[1:5]
    expected = json.load(open(expected_path))
    session = botocore.session.get_session()
    s3 = session.create_client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="S3RVER",
        aws_secret_access_key="S3RVER",
        config=botocore.config.Config(s3={"addressing_style": "path"}),
    )
    listed = []
    token = None
    while True:
        kw = {"Bucket": bucket, "Prefix": prefix}
        if token:
            kw["ContinuationToken"] = token
        page = s3.list_objects_v2(**kw)
        listed += [o["Key"][len(prefix):] for o in page.get("Contents", [])]
        if not page.get("IsTruncated"):
            break
        token = page["NextContinuationToken"]
    checked = 0
    for key, digest in expected.items():
        body = s3.get_object(Bucket=bucket, Key=prefix + key)["Body"].read()
        got = hashlib.sha256(body).hexdigest()
        if got != digest:
            print(f"crosscheck: {key}: sha256 {got} != {digest}", file=sys.stderr)
            sys.exit(1)
        checked += 1
    written = "from-botocore/hello.txt"
    s3.put_object(Bucket=bucket, Key=prefix + written, Body=b"written by botocore\n")
    print(json.dumps({"listed": sorted(listed), "checked": checked, "written": written}))


if __name__ == "__main__":
    import botocore.config  # noqa: F401  (imported for Config above)

    main()
