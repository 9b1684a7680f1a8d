"""Deploy rehearsal, step 2 (moto venv): create the translated stack on moto's CloudFormation and assert,
through each service's own API, what was created.

moto's CloudFormation implements only some resource types. Those it lacks are taken out of the template
before create-stack, and so is every resource or output that references one of them (cascading); both
lists are printed as NOT created. Nothing is created behind CloudFormation's back, except what an
operator creates before deploying: the secrets, which are passed by ARN (the *SecretArn parameters), so
the stack-created-secret path is the one this rehearsal does not exercise.

    python create.py <moto-url> <translated.json> <artifacts-dir> <out.json>
"""
import ast
import json
import os
import re
import sys
import warnings

import boto3

warnings.simplefilter("ignore")
from moto.cloudformation.parsing import get_model_map  # noqa: E402

MOTO, TRANSLATED, ARTIFACTS, OUT = sys.argv[1:5]
REGION, STACK = "us-east-1", "rehearsal"
SECRETS = {
    "InsforgeJwtSecretArn": {"INSFORGE_JWT_SECRET": "rehearsal-jwt-secret-0123456789abcdef0123456789"},
    "StytchSecretArn": {"STYTCH_SECRET": "rehearsal-stytch-secret"},
    "OkxSecretArn": {"OKX_API_KEY": "rehearsal-okx-key", "OKX_SECRET_KEY": "rehearsal-okx-secret", "OKX_PASSPHRASE": "rehearsal-okx-pass"},
    "InsforgeServiceKeySecretArn": {"INSFORGE_SERVICE_KEY": "ik_rehearsal0123456789abcdef"},
}
PARAMS = {  # .invalid never resolves (RFC 2606): nothing real is ever called
    "InsforgeBaseUrl": "https://insforge.invalid",
    "PaymentRecipient": "0x209693bc6afc0c5328ba36faf03c514ef312287c",
    "ClerkIssuer": "https://clerk.invalid",
    "WorkOSClientId": "client_rehearsal",
    "KindeIssuerUrl": "https://kinde.invalid",
    "Auth0Domain": "auth0.invalid",
    "Auth0Audience": "https://api.invalid",
    "StytchProjectId": "project-test-00000000-0000-0000-0000-000000000000",
    "BetterAuthUrl": "https://auth.invalid",
    "AlarmEmail": "ops@example.com",
}
failures = []


def check(ok, what):
    print(("  ok    " if ok else "  FAIL  ") + what)
    if not ok:
        failures.append(what)


def client(name):
    return boto3.client(name, endpoint_url=MOTO, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")


def evaluate(v, params, conditions):
    """Value of a condition expression (Fn::Equals/Not/And/Or, Condition, Ref to a parameter)."""
    if isinstance(v, dict) and len(v) == 1:
        (k, a), = v.items()
        if k == "Ref":
            return params.get(a, "")
        if k == "Condition":
            return evaluate(conditions[a], params, conditions)
        if k == "Fn::Equals":
            return str(evaluate(a[0], params, conditions)) == str(evaluate(a[1], params, conditions))
        if k == "Fn::Not":
            return not evaluate(a[0], params, conditions)
        if k == "Fn::And":
            return all(evaluate(x, params, conditions) for x in a)
        if k == "Fn::Or":
            return any(evaluate(x, params, conditions) for x in a)
    return v


def references(v, holds=lambda c: True):
    """Logical ids v refers to (Ref, GetAtt, Sub), following only the Fn::If branch that holds."""
    out = set()
    if isinstance(v, dict) and "Fn::If" in v and len(v) == 1:
        c, yes, no = v["Fn::If"]
        return references(yes if holds(c) else no, holds)
    if isinstance(v, dict):
        if "Ref" in v and len(v) == 1 and isinstance(v["Ref"], str):
            out.add(v["Ref"])
        if "Fn::GetAtt" in v:
            ga = v["Fn::GetAtt"]
            out.add(ga[0] if isinstance(ga, list) else ga.split(".")[0])
        if "Fn::Sub" in v:
            s = v["Fn::Sub"] if isinstance(v["Fn::Sub"], str) else v["Fn::Sub"][0]
            out.update(m.split(".")[0] for m in re.findall(r"\$\{([A-Za-z0-9.:]+)\}", s))
        for x in v.values():
            out |= references(x, holds)
    elif isinstance(v, list):
        for x in v:
            out |= references(x, holds)
    return out


with open(TRANSLATED) as f:
    tpl = json.load(f)
resources = tpl["Resources"]
types = {lid: r["Type"] for lid, r in resources.items()}

# 1. What moto's CloudFormation cannot create, and what depends on it (with these parameters: a
# resource whose Condition is false is not created anywhere, and only the Fn::If branch taken counts).
all_params = {k: str(p.get("Default", "")) for k, p in tpl.get("Parameters", {}).items()}
all_params.update(PARAMS)
all_params.update({k: "arn:aws:secretsmanager:us-east-1:123456789012:secret:given" for k in SECRETS})
conditions = tpl.get("Conditions", {})


def holds(name):
    return bool(evaluate(conditions[name], all_params, conditions))


def resolve(v):
    """A property's value with these parameters (Fn::If, Ref to a parameter, AWS::NoValue → None)."""
    if isinstance(v, dict) and "Fn::If" in v:
        c, yes, no = v["Fn::If"]
        return resolve(yes if holds(c) else no)
    if isinstance(v, dict) and "Ref" in v:
        return None if v["Ref"] == "AWS::NoValue" else all_params.get(v["Ref"])
    return v


off = {lid for lid, r in resources.items() if r.get("Condition") and not holds(r["Condition"])}
supported = set(get_model_map())
dropped = {lid: "type not implemented by moto's CloudFormation" for lid, t in types.items() if t not in supported and lid not in off}
changed = True
while changed:
    changed = False
    for lid, r in resources.items():
        if lid in dropped or lid in off:
            continue
        deps = references(r.get("Properties", {}), holds) | set(r.get("DependsOn", []) if isinstance(r.get("DependsOn"), list) else [r["DependsOn"]] if r.get("DependsOn") else [])
        bad = sorted(d for d in deps if d in dropped)
        if bad:
            dropped[lid] = "references " + ", ".join(bad)
            changed = True
kept = {lid: r for lid, r in resources.items() if lid not in dropped}
outputs = {k: o for k, o in tpl.get("Outputs", {}).items() if not (references(o, holds) & set(dropped))}
tpl["Resources"], tpl["Outputs"] = kept, outputs

# 2. The operator's step before a deploy: secrets created and passed by ARN.
s3, sm = client("s3"), client("secretsmanager")
s3.create_bucket(Bucket="rehearsal-artifacts")
for name in os.listdir(ARTIFACTS):
    with open(os.path.join(ARTIFACTS, name), "rb") as fh:
        s3.put_object(Bucket="rehearsal-artifacts", Key=name, Body=fh.read())
arns = {}
for param, doc in SECRETS.items():
    arns[param] = sm.create_secret(Name="rehearsal/" + param, SecretString=json.dumps(doc))["ARN"]
params = dict(PARAMS, **arns)

print("== create-stack on moto's CloudFormation (%d of %d resources)" % (len(kept), len(resources)))
cfn = client("cloudformation")
cfn.create_stack(StackName=STACK, TemplateBody=json.dumps(tpl), Capabilities=["CAPABILITY_IAM"],
                 Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()])
stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
check(stack["StackStatus"] == "CREATE_COMPLETE", "stack %s" % stack["StackStatus"])
physical = {r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
            for r in cfn.list_stack_resources(StackName=STACK)["StackResourceSummaries"]}
active = set(physical)  # resources whose Condition held
check(all(lid in active for lid in kept if lid not in off), "every kept resource whose Condition holds was created")
check(not (active & off), "no resource whose Condition is false was created")

# 3. Assert through the services' APIs.
lam, iam, logs, sqs, sns, cw, ev = (client(n) for n in ("lambda", "iam", "logs", "sqs", "sns", "cloudwatch", "events"))
verified = {}


def verify(lid):
    verified.setdefault(types[lid], []).append(lid)


secret_values = {v for d in SECRETS.values() for v in d.values()}
functions = {}
for lid in [l for l in kept if types[l] == "AWS::Lambda::Function" and l in active]:
    cfg = lam.get_function_configuration(FunctionName=physical[lid])
    verify(lid)
    env = cfg.get("Environment", {}).get("Variables", {})
    props = resources[lid]["Properties"]
    check(cfg["Runtime"] == "provided.al2023" and cfg["Handler"] == "bootstrap" and cfg["MemorySize"] == props["MemorySize"]
          and cfg["Timeout"] == props["Timeout"],
          "%s: %s / %s / %d MB / %d s" % (lid, cfg["Runtime"], cfg["Handler"], cfg["MemorySize"], cfg["Timeout"]))
    want_rc = resolve(props.get("ReservedConcurrentExecutions"))
    try:
        got_rc = lam.get_function_concurrency(FunctionName=physical[lid]).get("ReservedConcurrentExecutions")
    except Exception:  # noqa: BLE001 - none reserved
        got_rc = None
    check(str(got_rc) == str(want_rc) if want_rc is not None else got_rc is None,
          "%s: reserved concurrency %s" % (lid, got_rc if got_rc is not None else "none (unreserved)"))
    listed = [x for x in env.get("CONFIG_SECRETS", "").split(",") if x]
    check(bool(listed) and set(listed) <= set(arns.values()), "%s: CONFIG_SECRETS = %d secret ARN(s) given by parameter" % (lid, len(listed)))
    check(not any(v in secret_values for v in env.values()), "%s: no secret value in the function configuration" % lid)
    role = cfg["Role"].split("/")[-1]
    granted = set()
    for pn in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        doc = iam.get_role_policy(RoleName=role, PolicyName=pn)["PolicyDocument"]
        if isinstance(doc, str):  # moto may hand back the document as written (JSON or a Python repr)
            try:
                doc = json.loads(doc)
            except ValueError:
                doc = ast.literal_eval(doc)
        sts = doc.get("Statement", [])
        for st in [sts] if isinstance(sts, dict) else sts:
            acts = st.get("Action", [])
            if any(a.startswith("secretsmanager:") for a in ([acts] if isinstance(acts, str) else acts)):
                res = st.get("Resource", [])
                granted.update([res] if isinstance(res, str) else res)
    check(granted == set(listed), "%s: role may read exactly its CONFIG_SECRETS (%d ARN(s), no wildcard)" % (lid, len(granted)))
    functions[lid] = {"env": env, "role": role, "memory": cfg.get("MemorySize"), "timeout": cfg.get("Timeout")}

for lid in [l for l in kept if types[l] == "AWS::Logs::LogGroup" and l in active]:
    g = [x for x in logs.describe_log_groups(logGroupNamePrefix=physical[lid])["logGroups"] if x["logGroupName"] == physical[lid]]
    check(len(g) == 1 and g[0].get("retentionInDays") == 30, "%s: %s, 30-day retention" % (lid, physical[lid]))
    if g:
        verify(lid)

for lid in [l for l in kept if types[l] == "AWS::SQS::Queue" and l in active]:
    attrs = sqs.get_queue_attributes(QueueUrl=physical[lid], AttributeNames=["All"])["Attributes"]
    check(attrs.get("MessageRetentionPeriod") == "1209600", "%s: 14-day retention" % lid)
    verify(lid)

for lid in [l for l in kept if types[l] == "AWS::SNS::Topic" and l in active]:
    subs = sns.list_subscriptions_by_topic(TopicArn=physical[lid])["Subscriptions"]
    check(any(s["Protocol"] == "email" and s["Endpoint"] == PARAMS["AlarmEmail"] for s in subs), "%s: e-mail subscription" % lid)
    verify(lid)

for lid in [l for l in kept if types[l] == "AWS::IAM::Role" and l in active]:
    iam.get_role(RoleName=physical[lid])
    verify(lid)

for lid in [l for l in kept if types[l] == "AWS::Lambda::Version" and l in active]:
    fn = physical.get(resources[lid]["Properties"]["FunctionName"]["Ref"], "")
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=fn)["Versions"]] if fn else []
    check(any(v != "$LATEST" for v in versions), "%s: a published version of %s" % (lid, fn))
    verify(lid)

print("== created and checked through the service's API")
for t in sorted(verified):
    print("  %-38s %d" % (t, len(verified[t])))
print("== created by moto's CloudFormation, not checked further")
rest = {}
for lid in kept:
    if lid in active and not any(lid in v for v in verified.values()):
        rest.setdefault(types[lid], []).append(lid)
for t in sorted(rest):
    print("  %-38s %d" % (t, len(rest[t])))
print("== NOT created: not proven by this rehearsal")
by_reason = {}
for lid, why in dropped.items():
    by_reason.setdefault((types[lid], why if why.startswith("type") else "references a resource above"), []).append(lid)
for (t, why), lids in sorted(by_reason.items()):
    print("  %-38s %2d  %s" % (t, len(lids), why))
if off:
    print("  Condition false with these parameters (secrets given by ARN): %s" % ", ".join(sorted(off)))
if tpl.get("Rules"):
    print("  Rules (deploy-time parameter assertions) are not evaluated by moto: %s" % ", ".join(sorted(tpl["Rules"])))
print("  not modelled by moto's Lambda: Architectures (arm64), LoggingConfig (log group, system log level), TracingConfig")
print("  outputs dropped: %s" % ", ".join(sorted(set(json.load(open(TRANSLATED)).get("Outputs", {})) - set(outputs))))

with open(OUT, "w") as f:
    json.dump({"functions": functions, "secrets": arns}, f, indent=1)
if failures:
    print("rehearsal: %d check(s) failed" % len(failures))
    sys.exit(1)
