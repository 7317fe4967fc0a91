"""pyarrow and polars against the filtered log; prints one JSON report.

argv[1] (JSON): endpoint; sparkCheckpoint (a Spark-written checkpoint); checkpoints (generated
checkpoint files on disk); reads: [{accessKeyId, secretAccessKey, key, local}] (data files the
filtered log lists, each read through the proxy and from its local copy).
Each library that is not installed is reported as skipped with the reason.
"""
import json
import sys

args = json.loads(sys.argv[1])
report = {"checkpoints": [], "reads": []}

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyarrow import fs
except ImportError as e:
    report["pyarrowSkipped"] = str(e)
    print(json.dumps(report))
    sys.exit(0)

spark = pq.read_schema(args["sparkCheckpoint"])


def extra_fields(ours, theirs, path):
    """Fields of ours that Spark's checkpoint lacks or types differently."""
    out = []
    for f in ours:
        idx = theirs.get_field_index(f.name)
        if idx < 0:
            out.append(path + f.name)
            continue
        t = theirs.field(idx).type
        if pa.types.is_struct(f.type) and pa.types.is_struct(t):
            out += extra_fields(f.type, t, path + f.name + ".")
        elif str(f.type) != str(t):
            out.append(path + f.name + ": " + str(f.type) + " vs " + str(t))
    return out


for path in args["checkpoints"]:
    table = pq.read_table(path)
    report["checkpoints"].append(
        {"path": path, "rows": table.num_rows, "notLikeSpark": extra_fields(table.schema, spark, "")}
    )

try:
    import polars as pl
except ImportError as e:
    pl = None
    report["polarsSkipped"] = str(e)

for r in args["reads"]:
    s3fs = fs.S3FileSystem(
        endpoint_override=args["endpoint"].replace("http://", ""),
        scheme="http",
        access_key=r["accessKeyId"],
        secret_key=r["secretAccessKey"],
        region="us-east-1",
    )
    out = {"key": r["key"], "local": pq.read_table(r["local"]).num_rows}
    try:
        out["pyarrow"] = pq.read_table("datalake/" + r["key"], filesystem=s3fs).num_rows
    except Exception as e:  # noqa: BLE001  (the report carries the failure)
        out["pyarrow"] = "error: " + str(e)[:200]
    if pl is not None:
        opts = {
            "aws_endpoint_url": args["endpoint"],
            "aws_access_key_id": r["accessKeyId"],
            "aws_secret_access_key": r["secretAccessKey"],
            "aws_region": "us-east-1",
            "aws_allow_http": "true",
        }
        try:
            out["polars"] = pl.read_parquet("s3://datalake/" + r["key"], storage_options=opts).height
        except Exception as e:  # noqa: BLE001
            out["polars"] = "error: " + str(e)[:200]
    report["reads"].append(out)

print(json.dumps(report))
