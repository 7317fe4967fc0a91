"""Reads a Delta table through the proxy with boto3, pyarrow and polars; prints one JSON report.

argv[1] (JSON): endpoint, accessKeyId, secretAccessKey, allowedKey, forbiddenKey, prefix, outDir.
Each client that is not installed is reported as skipped with the reason.
"""
import json
import os
import sys

args = json.loads(sys.argv[1])
report = {}

import boto3  # noqa: E402  (boto3 is the one client this script requires)
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

s3 = boto3.client(
    "s3",
    endpoint_url=args["endpoint"],
    region_name="us-east-1",
    aws_access_key_id=args["accessKeyId"],
    aws_secret_access_key=args["secretAccessKey"],
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
)

report["buckets"] = [b["Name"] for b in s3.list_buckets()["Buckets"]]
s3.head_bucket(Bucket="datalake")
report["location"] = s3.get_bucket_location(Bucket="datalake").get("LocationConstraint")
keys = []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="datalake", Prefix=args["prefix"], PaginationConfig={"PageSize": 2}):
    keys += [o["Key"] for o in page.get("Contents", [])]
report["keys"] = keys
report["rootPrefixes"] = [p["Prefix"] for p in s3.list_objects_v2(Bucket="datalake", Delimiter="/").get("CommonPrefixes", [])]
local = os.path.join(args["outDir"], "allowed.parquet")
s3.download_file("datalake", args["allowedKey"], local)
try:
    s3.get_object(Bucket="datalake", Key=args["forbiddenKey"])
    report["forbidden"] = "served"
except ClientError as e:
    report["forbidden"] = e.response["Error"]["Code"]

try:
    import pyarrow.parquet as pq
    from pyarrow import fs

    report["pyarrowRows"] = pq.read_table(local).num_rows
    s3fs = fs.S3FileSystem(
        endpoint_override=args["endpoint"].replace("http://", ""),
        scheme="http",
        access_key=args["accessKeyId"],
        secret_key=args["secretAccessKey"],
        region="us-east-1",
    )
    report["pyarrowS3Rows"] = pq.read_table("datalake/" + args["allowedKey"], filesystem=s3fs).num_rows
except ImportError as e:
    report["pyarrowSkipped"] = str(e)

try:
    import polars as pl

    opts = {
        "aws_endpoint_url": args["endpoint"],
        "aws_access_key_id": args["accessKeyId"],
        "aws_secret_access_key": args["secretAccessKey"],
        "aws_region": "us-east-1",
        "aws_allow_http": "true",
    }
    report["polarsRows"] = pl.read_parquet("s3://datalake/" + args["allowedKey"], storage_options=opts).height
except ImportError as e:
    report["polarsSkipped"] = str(e)

print(json.dumps(report))
