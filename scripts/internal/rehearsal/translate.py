"""Deploy rehearsal, step 1 (SAM CLI venv): translate the built template with aws-sam-translator, what
CloudFormation's AWS::Serverless transform does to what `sam deploy` submits (moto has no such transform).
Each function's Code is then the local artifact zip, which the real `sam deploy` packages and uploads.

    python translate.py <build-dir> <artifacts-dir> <out.json>
"""
import json
import os
import sys
import zipfile

from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform

BUILD, ARTIFACTS, OUT = sys.argv[1:4]
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


class NoManagedPolicies:
    """SAM looks managed-policy names up in IAM; the template names none by name."""

    def load(self):
        return {}


with open(os.path.join(BUILD, "template.yaml")) as f:
    sam = yaml_parse(f.read())
os.makedirs(ARTIFACTS, exist_ok=True)
for lid, res in sam["Resources"].items():
    if res["Type"] != "AWS::Serverless::Function":
        continue
    src = os.path.join(BUILD, res["Properties"]["CodeUri"])
    with zipfile.ZipFile(os.path.join(ARTIFACTS, lid + ".zip"), "w", zipfile.ZIP_DEFLATED) as z:
        for name in os.listdir(src):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16
            with open(os.path.join(src, name), "rb") as fh:
                z.writestr(info, fh.read())
    res["Properties"]["CodeUri"] = "s3://rehearsal-artifacts/%s.zip" % lid

values = {k: str(v["Default"]) for k, v in sam.get("Parameters", {}).items() if "Default" in v}
out = transform(sam, values, NoManagedPolicies())
for lid, res in out["Resources"].items():
    if res["Type"] == "AWS::Lambda::Function" and "S3Key" in res["Properties"].get("Code", {}):
        key = res["Properties"]["Code"]["S3Key"]
        res["Properties"]["Code"] = os.path.abspath(os.path.join(ARTIFACTS, key))
with open(OUT, "w") as f:
    json.dump(out, f, indent=1)
print("translated: %d resources" % len(out["Resources"]))
