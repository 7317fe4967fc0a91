"""Reads one object through an S3 endpoint with one client; prints one JSON report, never raises.

argv[1] (JSON): client ("boto3" | "pyarrow" | "polars"), endpoint, accessKeyId, secretAccessKey,
key (in bucket datalake). Report: {"sha256": ...} (boto3), {"rows": n} (pyarrow, polars), or
{"error": "..."} with the client's own message.
"""
import hashlib
import json
import sys

args = json.loads(sys.argv[1])
endpoint = args["endpoint"]
try:
    if args["client"] == "boto3":
        import boto3
        from botocore.config import Config

        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=args["accessKeyId"],
            aws_secret_access_key=args["secretAccessKey"],
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )
        body = s3.get_object(Bucket="datalake", Key=args["key"])["Body"].read()
        report = {"sha256": hashlib.sha256(body).hexdigest()}
    elif args["client"] == "pyarrow":
        import pyarrow.parquet as pq
        from pyarrow import fs

        s3 = fs.S3FileSystem(
            endpoint_override=endpoint.split("://", 1)[1],
            scheme="http",
            access_key=args["accessKeyId"],
            secret_key=args["secretAccessKey"],
            region="us-east-1",
        )
        report = {"rows": pq.read_table("datalake/" + args["key"], filesystem=s3).num_rows}
    elif args["client"] == "polars":
        import polars as pl

        opts = {
            "aws_endpoint_url": endpoint,
            "aws_access_key_id": args["accessKeyId"],
            "aws_secret_access_key": args["secretAccessKey"],
            "aws_region": "us-east-1",
            "aws_allow_http": "true",
            "max_retries": 0,
        }
        report = {"rows": pl.read_parquet("s3://datalake/" + args["key"], storage_options=opts).height}
    else:
        report = {"error": "unknown client " + args["client"]}
except Exception as e:  # the verdict needs the client's own failure, not a traceback
    report = {"error": (type(e).__name__ + ": " + str(e)).splitlines()[0][:300]}
print(json.dumps(report))
