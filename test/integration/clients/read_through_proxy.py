"""Reads a Delta table's files through the proxy with one Python client; prints one JSON report.

argv[1]: the client, boto3 | pyarrow | polars.
argv[2] (JSON): endpoint, accessKeyId, secretAccessKey, allowedKey, forbiddenKey, prefix, outDir.
The test skips a client that is not installed before it runs this script; an ImportError here is
a failure.
"""
import json
import os
import sys

client = sys.argv[1]
args = json.loads(sys.argv[2])
report = {}


def refused(read):
    """How a read of the forbidden key ends: 'served', or the error the client raised."""
    try:
        read()
        return "served"
    except Exception as e:  # noqa: BLE001  (each client raises its own error type)
        return f"{type(e).__name__}: {e}"


if client == "boto3":
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

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
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket="datalake", Prefix=args["prefix"], PaginationConfig={"PageSize": 2}
    )
    for page in pages:
        keys += [o["Key"] for o in page.get("Contents", [])]
    report["keys"] = keys
    root = s3.list_objects_v2(Bucket="datalake", Delimiter="/")
    report["rootPrefixes"] = [p["Prefix"] for p in root.get("CommonPrefixes", [])]
    local = os.path.join(args["outDir"], "allowed.parquet")
    s3.download_file("datalake", args["allowedKey"], local)
    with open(local, "rb") as f:
        report["downloadedBytes"] = len(f.read())
    try:
        s3.get_object(Bucket="datalake", Key=args["forbiddenKey"])
        report["forbidden"] = "served"
    except ClientError as e:
        report["forbidden"] = e.response["Error"]["Code"]

elif client == "pyarrow":
    import pyarrow.parquet as pq
    from pyarrow import fs

    s3fs = fs.S3FileSystem(
        endpoint_override=args["endpoint"].replace("http://", ""),
        scheme="http",
        access_key=args["accessKeyId"],
        secret_key=args["secretAccessKey"],
        region="us-east-1",
    )
    report["rows"] = pq.read_table("datalake/" + args["allowedKey"], filesystem=s3fs).num_rows
    report["forbidden"] = refused(lambda: pq.read_table("datalake/" + args["forbiddenKey"], filesystem=s3fs))

elif client == "polars":
    import polars as pl

    opts = {
        "aws_endpoint_url": args["endpoint"],
        "aws_access_key_id": args["accessKeyId"],
        "aws_secret_access_key": args["secretAccessKey"],
        "aws_region": "us-east-1",
        "aws_allow_http": "true",
    }
    report["rows"] = pl.read_parquet("s3://datalake/" + args["allowedKey"], storage_options=opts).height
    report["forbidden"] = refused(
        lambda: pl.read_parquet("s3://datalake/" + args["forbiddenKey"], storage_options=opts)
    )

else:
    sys.exit(f"unknown client {client}")

print(json.dumps(report))
