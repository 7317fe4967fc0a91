"""Drives botocore's SigV4 signer against the test server; prints one JSON report on stdout.

Input (argv[1], JSON): endpoint, region, accessKeyId, secretAccessKey, keys.
"""
import json
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

args = json.loads(sys.argv[1])
client = boto3.client(
    "s3",
    endpoint_url=args["endpoint"],
    region_name=args["region"],
    aws_access_key_id=args["accessKeyId"],
    aws_secret_access_key=args["secretAccessKey"],
    config=Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        retries={"max_attempts": 1, "mode": "standard"},
    ),
)
results = []


def record(op, fn):
    try:
        fn()
        results.append({"op": op, "ok": True})
    except ClientError as e:
        results.append({"op": op, "ok": False, "code": e.response["Error"]["Code"]})


def add_query(request, **_):
    # Repeated, empty and bare parameters, appended to the URL botocore signs from.
    request.url += "&x-rep=zeta&x-rep=alpha&x-empty=&x-flag"


record("list_buckets", lambda: client.list_buckets())
for key in args["keys"]:
    record("get_object " + key, lambda: client.get_object(Bucket="datalake", Key=key, Range="bytes=0-4")["Body"].read())
    record("head_object " + key, lambda: client.head_object(Bucket="datalake", Key=key))
    record("list_objects_v2 " + key, lambda: client.list_objects_v2(Bucket="datalake", Prefix=key, Delimiter="/"))

client.meta.events.register("before-sign.s3.ListObjectsV2", add_query)
record("list_objects_v2 with repeated/empty/bare params", lambda: client.list_objects_v2(Bucket="datalake", Prefix="a"))
client.meta.events.unregister("before-sign.s3.ListObjectsV2", add_query)

presigned = [
    client.generate_presigned_url("get_object", Params={"Bucket": "datalake", "Key": key}, ExpiresIn=300)
    for key in args["keys"]
]
presigned.append(
    client.generate_presigned_url(
        "list_objects_v2", Params={"Bucket": "datalake", "Prefix": "year=2024/", "Delimiter": "/"}, ExpiresIn=300
    )
)
print(json.dumps({"results": results, "presigned": presigned}))
