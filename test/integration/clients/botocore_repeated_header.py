"""Signs a GET with botocore's S3 SigV4 signer, one header given several values, and sends it
with http.client, one line per value (the lines sent may differ from those signed: tampering).
Prints {"status": ..., "body": ...} on stdout.

Input (argv[1], JSON): endpoint, region, accessKeyId, secretAccessKey, path, header, signed, sent.
"""
import http.client
import json
import sys
from urllib.parse import urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

args = json.loads(sys.argv[1])
request = AWSRequest(method="GET", url=args["endpoint"] + args["path"])
for value in args["signed"]:
    request.headers[args["header"]] = value  # HTTPHeaders keeps every value of a repeated name
S3SigV4Auth(Credentials(args["accessKeyId"], args["secretAccessKey"]), "s3", args["region"]).add_auth(request)

target = urlsplit(args["endpoint"])
connection = http.client.HTTPConnection(target.hostname, target.port, timeout=15)
connection.putrequest("GET", args["path"], skip_host=True, skip_accept_encoding=True)
connection.putheader("Host", target.netloc)
for name in ("X-Amz-Date", "X-Amz-Content-SHA256", "Authorization"):
    connection.putheader(name, request.headers[name])
for value in args["sent"]:
    connection.putheader(args["header"], value)
connection.endheaders()
response = connection.getresponse()
print(json.dumps({"status": response.status, "body": response.read().decode("utf-8")}))
