"""Deploy rehearsal, moto side (moto venv): what moto's CloudFormation can take, and what it made.

    python create.py prune  <moto-url> <translated.json> <params.json> <pruned.json>
    python create.py verify <moto-url> <stack> <translated.json> <params.json> <out.json>
    python create.py empty  <moto-url>

prune: moto's CloudFormation implements only some resource types. Those it lacks are taken out of the
transformed template, and so is every resource or output that references one of them (cascading); both
lists are printed as NOT created. The pruned template is what the real `sam deploy` then submits.
verify: asserts, through each service's own API, what the stack created; prints created / verified /
not supported per resource type. empty: after `sam delete`, nothing of a stack is left in moto.
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

MODE, MOTO = sys.argv[1:3]
REGION = "us-east-1"
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


def load(translated, params_file):
    global all_params, conditions
    with open(translated) as f:
        tpl = json.load(f)
    with open(params_file) as f:
        given = json.load(f)
    all_params = {k: str(p.get("Default", "")) for k, p in tpl.get("Parameters", {}).items()}
    all_params.update(given)
    conditions = tpl.get("Conditions", {})
    return tpl, given


def holds(name):
    return bool(evaluate(conditions[name], all_params, conditions))


def resolve(v):
    """A property's value with these parameters (Fn::If, Ref to a parameter, Fn::Select/Split, AWS::NoValue → None)."""
    if isinstance(v, dict) and "Fn::If" in v:
        c, yes, no = v["Fn::If"]
        return resolve(yes if holds(c) else no)
    if isinstance(v, dict) and "Ref" in v:
        return None if v["Ref"] == "AWS::NoValue" else all_params.get(v["Ref"])
    if isinstance(v, dict) and "Fn::Select" in v:
        i, lst = v["Fn::Select"]
        if isinstance(lst, dict) and "Fn::Split" in lst:
            sep, src = lst["Fn::Split"]
            return str(resolve(src)).split(sep)[int(i)]
    return v


def prune(translated, params_file, out):
    tpl, _ = load(translated, params_file)
    resources = tpl["Resources"]
    types = {lid: r["Type"] for lid, r in resources.items()}
    off = {lid for lid, r in resources.items() if r.get("Condition") and not holds(r["Condition"])}
    supported = set(get_model_map())
    dropped = {lid: "type not implemented by moto's CloudFormation" for lid, t in types.items() if t not in supported and lid not in off}
    changed = True
    while changed:
        changed = False
        for lid, r in resources.items():
            if lid in dropped or lid in off:
                continue
            dep = r.get("DependsOn") or []
            deps = references(r.get("Properties", {}), holds) | set([dep] if isinstance(dep, str) else dep)
            bad = sorted(d for d in deps if d in dropped)
            if bad:
                dropped[lid] = "references " + ", ".join(bad)
                changed = True
    kept = {lid: r for lid, r in resources.items() if lid not in dropped}
    outputs = {k: o for k, o in tpl.get("Outputs", {}).items() if not (references(o, holds) & set(dropped))}
    print("  moto's CloudFormation takes %d of the %d resources (%d not created with these parameters)" % (
        len([k for k in kept if k not in off]), len(resources) - len(off), len(off)))
    tpl["Resources"], tpl["Outputs"] = kept, outputs
    with open(out, "w") as f:
        json.dump(tpl, f, indent=1)
    with open(out + ".dropped", "w") as f:
        json.dump({"dropped": dropped, "off": sorted(off), "types": types}, f)


def verify(stack_name, translated, params_file, out):
    tpl, given = load(translated, params_file)
    resources = tpl["Resources"]
    types = {lid: r["Type"] for lid, r in resources.items()}
    with open(os.path.splitext(out)[0] + ".pruned.json.dropped") as f:
        d = json.load(f)
    dropped, off = d["dropped"], set(d["off"])
    kept = {lid: r for lid, r in resources.items() if lid not in dropped}
    cfn = client("cloudformation")
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    check(stack["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE"), "stack %s: %s (sam deploy)" % (stack_name, stack["StackStatus"]))
    physical = {r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
                for r in cfn.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]}
    active = set(physical)
    check(all(lid in active for lid in kept if lid not in off), "every kept resource whose Condition holds was created")
    check(not (active & off), "no resource whose Condition is false was created (%d left out)" % len(off))
    arns = {k: v for k, v in given.items() if k.endswith("SecretArn") and v}
    secret_values = set()
    sm = client("secretsmanager")
    for arn in arns.values():
        secret_values |= set(json.loads(sm.get_secret_value(SecretId=arn)["SecretString"]).values())
    retention = int(resolve({"Fn::Select": ["4", {"Fn::Split": [",", {"Ref": "Tuning"}]}]}))
    # 3. Assert through the services' APIs.
    lam, iam, logs, sqs, sns, cw, ev = (client(n) for n in ("lambda", "iam", "logs", "sqs", "sns", "cloudwatch", "events"))
    verified = {}


    def verify(lid):
        verified.setdefault(types[lid], []).append(lid)


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
        check(len(g) == 1 and str(g[0].get("retentionInDays")) == str(retention),  # moto keeps Fn::Select's string
              "%s: %s, %d-day retention" % (lid, physical[lid], retention))
        if g:
            verify(lid)

    for lid in [l for l in kept if types[l] == "AWS::SQS::Queue" and l in active]:
        attrs = sqs.get_queue_attributes(QueueUrl=physical[lid], AttributeNames=["All"])["Attributes"]
        check(attrs.get("MessageRetentionPeriod") == "1209600", "%s: 14-day retention" % lid)
        verify(lid)

    for lid in [l for l in kept if types[l] == "AWS::SNS::Topic" and l in active]:
        subs = sns.list_subscriptions_by_topic(TopicArn=physical[lid])["Subscriptions"]
        check(any(s["Protocol"] == "email" and s["Endpoint"] == given["AlarmEmail"] for s in subs), "%s: e-mail subscription" % lid)
        verify(lid)

    for lid in [l for l in kept if types[l] == "AWS::IAM::Role" and l in active]:
        iam.get_role(RoleName=physical[lid])
        verify(lid)

    for lid in [l for l in kept if types[l] == "AWS::Lambda::Version" and l in active]:
        fn = physical.get(resources[lid]["Properties"]["FunctionName"]["Ref"], "")
        versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=fn)["Versions"]] if fn else []
        check(any(v != "$LATEST" for v in versions), "%s: a published version of %s" % (lid, fn))
        verify(lid)

    print("== per resource type: created and checked through the service's API")
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
        print("  %d resources whose Condition is false with these parameters (features not picked)" % len(off))
    if tpl.get("Rules"):
        print("  Rules (deploy-time parameter assertions) are not evaluated by moto: %s" % ", ".join(sorted(tpl["Rules"])))
    print("  not modelled by moto's Lambda: Architectures (arm64), LoggingConfig (log group, system log level), TracingConfig")


    with open(out, "w") as f:
        json.dump({"functions": functions, "secrets": arns}, f, indent=1)


def empty():
    """Nothing of any stack is left: no stack, function, role, log group, queue, topic, alarm, bucket object."""
    cfn, lam, iam, logs, sqs, sns, cw, s3 = (client(n) for n in ("cloudformation", "lambda", "iam", "logs", "sqs", "sns", "cloudwatch", "s3"))
    stacks = [x["StackName"] for x in cfn.list_stacks()["StackSummaries"] if x["StackStatus"] != "DELETE_COMPLETE"]
    check(not stacks, "no stack left" + (": " + ", ".join(stacks) if stacks else ""))
    left = {
        "Lambda functions": [f["FunctionName"] for f in lam.list_functions()["Functions"]],
        "IAM roles": [r["RoleName"] for r in iam.list_roles()["Roles"]],
        "log groups": [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]],
        "SQS queues": sqs.list_queues().get("QueueUrls", []),
        "SNS topics": [t["TopicArn"] for t in sns.list_topics()["Topics"]],
        "alarms": [a["AlarmName"] for a in cw.describe_alarms()["MetricAlarms"]],
        "dashboards": [d["DashboardName"] for d in cw.list_dashboards()["DashboardEntries"]],
        # not the stack's: the operator's, deleted by the rehearsal without a recovery window (docs/deploy.md)
        "secrets": [x["Name"] for x in client("secretsmanager").list_secrets()["SecretList"]],
    }
    for b in s3.list_buckets()["Buckets"]:
        left.setdefault("S3 objects", []).extend(o["Key"] for o in s3.list_objects_v2(Bucket=b["Name"]).get("Contents", []))
    for what, names in left.items():
        check(not names, "sam delete left no %s%s" % (what, (": " + ", ".join(names[:5])) if names else ""))


if MODE == "prune":
    prune(*sys.argv[3:6])
elif MODE == "verify":
    verify(*sys.argv[3:7])
elif MODE == "empty":
    empty()
else:
    sys.exit("unknown mode " + MODE)
if failures:
    print("rehearsal: %d check(s) failed" % len(failures))
    sys.exit(1)
