"""Translate template.yaml with aws-sam-translator (the SAM CLI venv's, the version `sam deploy`
pins) into the CloudFormation template the AWS::Serverless transform produces, for cfngraph.

    python translate.py <template.yaml> <out.json>

CodeUri points at a placeholder object (the transform only needs its shape); parameter values are
the defaults, which the transform only uses for what it must resolve itself (DeploymentPreference
Type, AutoPublishAlias): conditions stay in the output and cfngraph evaluates them per feature set.
"""
import json
import os
import sys

from samtranslator.translator.transform import transform

try:
    from samcli.yamlhelper import yaml_parse
except ImportError:  # a Python with aws-sam-translator and cfn-lint but no SAM CLI
    from cfnlint.decode.cfn_yaml import loads as yaml_parse

SRC, OUT = sys.argv[1:3]
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


class NoManagedPolicies:
    """SAM looks managed-policy names up in IAM; the template names none by name."""

    def load(self):
        return {}


with open(SRC) as f:
    sam = json.loads(json.dumps(yaml_parse(f.read()), default=str))
for res in sam["Resources"].values():
    if res["Type"] == "AWS::Serverless::Function":
        res["Properties"]["CodeUri"] = "s3://translate-placeholder/code.zip"
sam.get("Globals", {}).get("Function", {}).pop("CodeUri", None)
values = {k: str(v["Default"]) for k, v in sam.get("Parameters", {}).items() if "Default" in v}
out = transform(sam, values, NoManagedPolicies())
with open(OUT, "w") as f:
    json.dump(out, f, indent=1, sort_keys=True)
