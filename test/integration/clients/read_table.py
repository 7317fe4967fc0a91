"""Reads a table through an S3 endpoint with one client; prints one JSON report.

argv[1] (JSON): client ("boto3" | "pyarrow"), endpoint, accessKeyId, secretAccessKey, prefix
("sales/"), and optionally proxy (an HTTP proxy URL, such as the delta-proxy-client helper).
boto3: lists the prefix, downloads every object (sha256 of each) and one byte range.
pyarrow: reads the prefix as a hive-partitioned dataset (row count and ids).
"""
import hashlib
import json
import sys

args = json.loads(sys.argv[1])
proxy = args.get("proxy")

if args["client"] == "boto3":
    import boto3
    from botocore.config import Config

    s3 = boto3.client(
        "s3",
        endpoint_url=args["endpoint"],
        region_name="us-east-1",
        aws_access_key_id=args["accessKeyId"],
        aws_secret_access_key=args["secretAccessKey"],
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1},
            proxies={"http": proxy} if proxy else None,
        ),
    )
    objects = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="datalake", Prefix=args["prefix"]):
        for o in page.get("Contents", []):
            body = s3.get_object(Bucket="datalake", Key=o["Key"])["Body"].read()
            objects[o["Key"]] = hashlib.sha256(body).hexdigest()
    first = sorted(k for k in objects if k.endswith(".parquet"))[0]
    ranged = s3.get_object(Bucket="datalake", Key=first, Range="bytes=0-3")
    print(json.dumps({"objects": objects, "rangedKey": first, "ranged": ranged["Body"].read().decode("latin-1"),
                      "rangedStatus": ranged["ResponseMetadata"]["HTTPStatusCode"]}))
elif args["client"] == "pyarrow":
    import pyarrow.parquet as pq
    from pyarrow import fs

    endpoint = args["endpoint"]
    s3 = fs.S3FileSystem(
        endpoint_override=endpoint.split("://", 1)[1],
        scheme=endpoint.split("://", 1)[0],
        access_key=args["accessKeyId"],
        secret_key=args["secretAccessKey"],
        region="us-east-1",
        proxy_options=proxy,
    )
    table = pq.read_table("datalake/" + args["prefix"], filesystem=s3)
    print(json.dumps({"rows": table.num_rows, "ids": sorted(table.column("id").to_pylist())}))
else:
    sys.exit("unknown client " + args["client"])
