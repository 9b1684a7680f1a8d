"""Create or update the stack's secrets (make deploy). Reads {"region", "secrets": [{name, param,
values}]} on stdin, writes {param: arn} on stdout. Values never reach a command line or a log.
AWS_ENDPOINT_URL (the rehearsal's moto) is honoured by boto3 itself."""
import json
import sys

import boto3

req = json.load(sys.stdin)
sm = boto3.client("secretsmanager", region_name=req["region"])
out = {}
for s in req["secrets"]:
    body = json.dumps(s["values"])
    try:
        arn = sm.create_secret(Name=s["name"], SecretString=body, Description="InsForge edge functions: " + s["param"])["ARN"]
        print("created secret %s" % s["name"], file=sys.stderr)
    except sm.exceptions.ResourceExistsException:
        arn = sm.put_secret_value(SecretId=s["name"], SecretString=body)["ARN"]
        print("updated secret %s" % s["name"], file=sys.stderr)
    out[s["param"]] = arn
json.dump(out, sys.stdout)
