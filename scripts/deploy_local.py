#!/usr/bin/env python3
"""Deploy Cartwheel's SAM template to a local AWS endpoint and check what it created.

There is no SAM CLI here, so this does what `sam deploy` would, offline:

  1. takes the four Lambda zips built by `make lambda-zips` (build/lambda/<name>.zip);
  2. uses a local endpoint: --endpoint, else $CARTWHEEL_TEST_ENDPOINT, else $AWS_ENDPOINT_URL, if it
     answers S3 and CloudFormation; otherwise localstack/up's (reused if already up, else started
     and stopped again with localstack/down); if that fails, or with --own-moto, a private
     `moto_server -H 127.0.0.1 -p <free port>`, stopped by pid at the end;
  3. uploads the zips to a fresh deployment bucket on that endpoint;
  4. expands template.yaml to plain CloudFormation with aws-sam-translator (what SAM CLI uses),
     each function's CodeUri pointing at its uploaded zip;
  5. creates the stack and waits for it;
  6. checks that every resource of the expanded template is CREATE_COMPLETE (moto has no
     AWS::ApiGatewayV2::*: those are reported as expected-skipped), prints the table, then checks
     the deployed configuration (function runtime/arch/env, queue redrive and visibility, event
     source mapping, schedules, table, bucket hardening, no wildcard resources in the roles, each
     role granting exactly what its function's code calls (FUNCTION_NEEDS)) and, from the expanded
     template with this deployment's parameters (moto has no AWS::ApiGatewayV2), the HTTP API: every
     route's authorizer (AWS_IAM for admin and dashboard, DataApiAuth's for the data routes), its
     integration with the api function, and the stage's default throttling;
  7. with --smoke (what `make deploy-local` passes), runs each function's real code, built for this
     host, as a `bootstrap` process with the environment the stack gave the deployed function, fed
     events (PUT/GET/DELETE /kv/{key}, an admin route, a poison SQS hint, the two schedules) through
     a minimal Lambda Runtime API served by this script: moto itself cannot run Lambda code;
  8. deletes the stack, the resources it retains (bucket, table) and the deployment bucket, unless
     --keep; an existing stack of the same name is torn down the same way first.

moto's CloudFormation lacks AWS::ApiGatewayV2::* and AWS::S3::BucketPolicy (reported as
expected-skipped; the bucket policy is applied with PutBucketPolicy, checked, then removed again,
since moto enforces it and it denies plain-HTTP requests), and ignores Architectures,
PointInTimeRecoverySpecification and PublicAccessBlockConfiguration (checked in the expanded
template instead, marked ok*).

Exit status: 0 when everything checked out, 1 when a resource or a check failed, 2 on usage or
environment errors (no moto_server, missing zips, ...).

Subcommands:
  deploy     the above (default when no subcommand is given)
  translate  write the expanded CloudFormation template (JSON) for inspection
  zip SRC DST  write DST, a Lambda zip holding SRC as an executable `bootstrap`
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "template.yaml"
WORK = REPO / "build" / "deploy-local"
DEFAULT_REGION = "us-east-1"

# Resource types moto's CloudFormation (5.2) does not implement: it logs "Tried to parse ... but it's
# not supported", creates nothing and lists a blank placeholder resource instead.
EXPECTED_SKIPPED = {
    "AWS::ApiGatewayV2::": "expected: moto's CloudFormation has no AWS::ApiGatewayV2",
    "AWS::S3::BucketPolicy": "expected: moto's CloudFormation has no AWS::S3::BucketPolicy; "
    "deploy-local applied the resolved policy with PutBucketPolicy",
}


def skip_reason(rtype: str) -> str | None:
    for prefix, why in EXPECTED_SKIPPED.items():
        if rtype.startswith(prefix):
            return why
    return None


class Failure(Exception):
    """An environment or usage problem: exit status 2."""


def log(msg: str = "") -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------- zip


def zip_bootstrap(src: Path, dst: Path) -> None:
    """Write dst, a zip holding src as `bootstrap` (mode 0755, fixed timestamp: reproducible)."""
    data = src.read_bytes()
    info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
    info.create_system = 3  # Unix, so external_attr carries the mode
    info.external_attr = (0o100755 & 0xFFFF) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        zf.writestr(info, data, compresslevel=9)
    os.replace(tmp, dst)


# --------------------------------------------------------------------------- translate


class _NoManagedPolicies:
    """Managed-policy loader for samtranslator: the template names managed policies by ARN only."""

    def load(self) -> dict:
        return {}


def function_zip_name(logical_id: str) -> str:
    """ApiFunction -> api, AntiEntropyFunction -> antientropy (the functions/<name> directory)."""
    name = logical_id[: -len("Function")] if logical_id.endswith("Function") else logical_id
    return name.lower()


def load_sam_template(path: Path) -> dict:
    from samtranslator.yaml_helper import yaml_parse

    return yaml_parse(path.read_text())


def translate(sam: dict, code: dict[str, tuple[str, str]], region: str) -> dict:
    """Expand the SAM template; code maps a function's logical id to the (bucket, key) of its zip."""
    os.environ["AWS_DEFAULT_REGION"] = region  # samtranslator derives the partition from it
    os.environ.setdefault("AWS_REGION", region)
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.translator.transform import transform

    sam = json.loads(json.dumps(sam))  # deep copy
    sam.get("Globals", {}).get("Function", {}).pop("CodeUri", None)
    for lid, res in sam.get("Resources", {}).items():
        if res.get("Type") == "AWS::Serverless::Function":
            if lid not in code:
                raise Failure(f"no code for function {lid}")
            bucket, key = code[lid]
            res.setdefault("Properties", {})["CodeUri"] = {"Bucket": bucket, "Key": key}
    try:
        return transform(sam, {}, _NoManagedPolicies())
    except InvalidDocumentException as e:
        causes = "\n  ".join(str(c) for c in getattr(e, "causes", []))
        raise Failure(f"aws-sam-translator rejected template.yaml: {e}\n  {causes}") from e


def serverless_functions(sam: dict) -> list[str]:
    return [lid for lid, r in sam["Resources"].items() if r.get("Type") == "AWS::Serverless::Function"]


# --------------------------------------------------------------------------- endpoint


def is_aws(url: str) -> bool:
    host = (urllib.parse.urlparse(url).hostname or "").lower()
    return host.endswith("amazonaws.com") or host.endswith("amazonaws.com.cn") or host.endswith("aws")


def boto_client(service: str, endpoint: str, region: str, timeout: float = 30, retries: int = 3):
    import boto3
    from botocore.config import Config

    cfg = Config(
        connect_timeout=min(timeout, 5),
        read_timeout=timeout,
        retries={"max_attempts": retries, "mode": "standard"},
        s3={"addressing_style": "path"},
    )
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        aws_session_token=os.environ.get("AWS_SESSION_TOKEN") or None,
        config=cfg,
    )


def endpoint_problem(endpoint: str, region: str) -> str | None:
    """None if the endpoint answers S3 and CloudFormation; else why not."""
    try:
        boto_client("s3", endpoint, region, timeout=3, retries=1).list_buckets()
    except Exception as e:  # noqa: BLE001 - any failure means "not usable"
        return f"S3 ListBuckets failed: {e}"
    try:
        boto_client("cloudformation", endpoint, region, timeout=3, retries=1).list_stacks()
    except Exception as e:  # noqa: BLE001
        return f"CloudFormation ListStacks failed (an endpoint without CloudFormation, e.g. kumo?): {e}"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Moto:
    """A moto_server started (and stopped, by pid) by this script."""

    def __init__(self, logfile: Path):
        exe = shutil.which("moto_server")
        if not exe:
            raise Failure(
                "moto_server is not on PATH and no usable endpoint was given "
                "(set CARTWHEEL_TEST_ENDPOINT or AWS_ENDPOINT_URL, or pass --endpoint). "
                "moto_server is preinstalled on the development image; it cannot be installed from PyPI here."
            )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        logfile.parent.mkdir(parents=True, exist_ok=True)
        self.logfile = logfile
        self._log = open(logfile, "wb")
        self.proc = subprocess.Popen(
            [exe, "-H", "127.0.0.1", "-p", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C to make is handled by us, not delivered to moto directly
        )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise Failure(f"moto_server exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.url + "/moto-api/", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise Failure(f"moto_server did not answer on {self.url} within 60 s:\n{self.tail()}")
                time.sleep(0.2)

    def tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def describe(self) -> str:
        return f"moto_server pid {self.proc.pid} on {self.url} (log {self.logfile})"

    def stop_hint(self) -> str:
        return f"kill {self.proc.pid}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM to this pid only
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


LOCALSTACK_UP = REPO / "localstack" / "up"
LOCALSTACK_DOWN = REPO / "localstack" / "down"


class LocalstackUp:
    """The endpoint of localstack/up (LocalStack under Docker, else moto_server; port
    $CARTWHEEL_LOCAL_PORT, default 4566). localstack/down is called at the end only if this run's
    localstack/up started the endpoint, not when it reused one already running."""

    def __init__(self) -> None:
        run = LOCALSTACK_UP.parent / ".run"
        markers = (run / "moto.pid", run / "compose")
        before = any(m.exists() for m in markers)
        r = subprocess.run([str(LOCALSTACK_UP)], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
        for line in r.stderr.splitlines():
            log(f"  {line}")
        lines = r.stdout.strip().splitlines()
        if r.returncode != 0 or not lines:
            raise Failure(f"localstack/up failed (exit {r.returncode})")
        self.url = lines[-1].strip()
        self.started = not before and any(m.exists() for m in markers)

    def describe(self) -> str:
        how = "started by localstack/up" if self.started else "already running (reused by localstack/up)"
        return f"{self.url}, {how}"

    def stop_hint(self) -> str:
        return "localstack/down"

    def stop(self) -> None:
        if self.started:
            r = subprocess.run([str(LOCALSTACK_DOWN)], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
            for line in r.stderr.splitlines():
                log(f"  {line}")


# --------------------------------------------------------------------------- stack


def wait_stack(cfn, name: str, timeout: float) -> str:
    """Poll until the stack leaves *_IN_PROGRESS; return its status ("GONE" if deleted)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            st = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        except cfn.exceptions.ClientError as e:
            if "does not exist" in str(e):
                return "GONE"
            raise
        if not st.endswith("_IN_PROGRESS"):
            return st
        if time.monotonic() > deadline:
            return st + " (timed out waiting)"
        time.sleep(0.5)


def list_resources(cfn, name: str) -> list[dict]:
    out: list[dict] = []
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=name):
        out.extend(page["StackResourceSummaries"])
    return out


def print_events(cfn, name: str) -> None:
    try:
        events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    except Exception as e:  # noqa: BLE001
        log(f"(no stack events: {e})")
        return
    for ev in reversed(events):
        reason = ev.get("ResourceStatusReason") or ""
        log(f"  {ev.get('LogicalResourceId', ''):32} {ev.get('ResourceStatus', ''):20} {reason}")


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    fmt = "  ".join("{:%d}" % w for w in widths)
    lines = [fmt.format(*header), fmt.format(*["-" * w for w in widths])]
    lines += [fmt.format(*r) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def check_resources(expanded: dict, summaries: list[dict], params: dict | None = None) -> tuple[list[list[str]], list[str]]:
    """Return the table rows and the problems (non-empty means failure). A resource whose
    Condition is false for params is expected absent (e.g. the S3 Express buckets with
    NodeStorage=standard)."""
    by_id = {s["LogicalResourceId"]: s for s in summaries if s.get("LogicalResourceId")}
    placeholders = sum(1 for s in summaries if not s.get("LogicalResourceId"))
    rows, problems = [], []
    skipped = 0
    for lid, res in sorted(expanded["Resources"].items(), key=lambda kv: (kv[1]["Type"], kv[0])):
        rtype = res["Type"]
        s = by_id.pop(lid, None)
        why = skip_reason(rtype)
        cond = res.get("Condition")
        if s is None and params is not None and cond and not evaluate(expanded["Conditions"][cond], params, expanded):
            # moto lists a blank placeholder for a resource whose condition is false, too.
            skipped += 1
            rows.append([lid, rtype, "NOT NEEDED", f"condition {cond} is false"])
            continue
        if s is None:
            if why:
                skipped += 1
                rows.append([lid, rtype, "SKIPPED", why])
            else:
                rows.append([lid, rtype, "MISSING", "not created"])
                problems.append(f"{lid} ({rtype}) was not created")
            continue
        status = s["ResourceStatus"]
        rows.append([lid, rtype, status, s.get("PhysicalResourceId") or ""])
        if status != "CREATE_COMPLETE" and not why:
            problems.append(f"{lid} ({rtype}) is {status}: {s.get('ResourceStatusReason', '')}")
    for lid, s in by_id.items():  # created but not in the template: odd, report it
        rows.append([lid, s["ResourceType"], s["ResourceStatus"], (s.get("PhysicalResourceId") or "") + " (not in template)"])
        problems.append(f"{lid} is in the stack but not in the template")
    if placeholders != skipped:
        problems.append(f"the stack lists {placeholders} unnamed placeholder resources but {skipped} resources were skipped")
    return rows, problems


class Unresolvable(Exception):
    pass


def resolve(node: Any, refs: dict[str, str], atts: dict[str, str]) -> Any:
    """Resolve Ref / Fn::GetAtt / Fn::Sub / Fn::Join with the deployed stack's values."""
    import re

    if isinstance(node, list):
        return [resolve(n, refs, atts) for n in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        (fn, arg), = node.items()
        if fn == "Ref":
            if arg not in refs:
                raise Unresolvable(f"Ref {arg}")
            return refs[arg]
        if fn == "Fn::GetAtt":
            name = ".".join(arg) if isinstance(arg, list) else arg
            if name not in atts:
                raise Unresolvable(f"GetAtt {name}")
            return atts[name]
        if fn == "Fn::Join":
            return arg[0].join(resolve(arg[1], refs, atts))
        if fn == "Fn::Sub":
            text, local = (arg, {}) if isinstance(arg, str) else (arg[0], resolve(arg[1], refs, atts))

            def one(m: "re.Match[str]") -> str:
                name = m.group(1)
                if name.startswith("!"):
                    return "${" + name[1:] + "}"
                if name in local:
                    return str(local[name])
                if name in refs:
                    return refs[name]
                if name in atts:
                    return atts[name]
                raise Unresolvable(f"Sub ${{{name}}}")

            return re.sub(r"\$\{([^}]+)\}", one, text)
    return {k: resolve(v, refs, atts) for k, v in node.items()}


def apply_bucket_policies(expanded: dict, phys: dict[str, str], params: dict[str, str], region: str, s3) -> list[str]:
    """moto cannot create AWS::S3::BucketPolicy from a template: put the resolved policies directly."""
    refs = {
        **params,
        **{k: v for k, v in phys.items() if v},
        "AWS::Partition": "aws",
        "AWS::Region": region,
        "AWS::AccountId": "123456789012",
        "AWS::URLSuffix": "amazonaws.com",
    }
    atts = {f"{lid}.Arn": f"arn:aws:s3:::{phys[lid]}" for lid, r in expanded["Resources"].items()
            if r["Type"] == "AWS::S3::Bucket" and phys.get(lid)}
    problems = []
    for lid, r in expanded["Resources"].items():
        if r["Type"] != "AWS::S3::BucketPolicy" or phys.get(lid):
            continue
        try:
            props = resolve(r["Properties"], refs, atts)
            s3.put_bucket_policy(Bucket=props["Bucket"], Policy=json.dumps(props["PolicyDocument"]))
        except Exception as e:  # noqa: BLE001
            problems.append(f"{lid}: could not apply the bucket policy: {e}")
    return problems


def remove_tls_only_policies(expanded: dict, phys: dict[str, str], s3) -> list[str]:
    """Drop the bucket policies again after checking them: moto enforces bucket policies, and a
    policy denying aws:SecureTransport=false denies every request of a plain-HTTP local endpoint."""
    removed = []
    for lid, r in expanded["Resources"].items():
        if r["Type"] == "AWS::S3::BucketPolicy" and not phys.get(lid):
            bucket_ref = r["Properties"].get("Bucket", {})
            bucket = phys.get(bucket_ref.get("Ref", "")) if isinstance(bucket_ref, dict) else bucket_ref
            if bucket:
                s3.delete_bucket_policy(Bucket=bucket)
                removed.append(bucket)
    return removed


# --------------------------------------------------------------------------- post-deploy checks


class Checks:
    def __init__(self) -> None:
        self.results: list[tuple[str, str, str]] = []

    def ok(self, name: str, detail: str = "") -> None:
        self.results.append(("ok", name, detail))

    def fail(self, name: str, detail: str) -> None:
        self.results.append(("FAIL", name, detail))

    def expect(self, name: str, cond: bool, detail: str) -> None:
        (self.ok if cond else self.fail)(name, detail)

    def expect_or_template(self, name: str, deployed_ok: bool, template_ok: bool, detail: str, gap: str) -> None:
        """For properties moto's CloudFormation drops: accept them from the expanded template."""
        if deployed_ok:
            self.ok(name, detail)
        elif template_ok:
            self.results.append(("ok*", name, f"{detail}; {gap}: the expanded template sets it"))
        else:
            self.fail(name, detail)

    @property
    def failed(self) -> list[tuple[str, str, str]]:
        return [r for r in self.results if r[0] == "FAIL"]


def parse_policy(text: str) -> dict:
    """A policy document as IAM returns it: URL-encoded JSON (AWS), JSON, or a Python repr (moto 5.2)."""
    import ast

    for candidate in (text, urllib.parse.unquote(text)):
        try:
            return json.loads(candidate)
        except ValueError:
            pass
    return ast.literal_eval(text)


def effective_params(sam: dict, overrides: dict[str, str]) -> dict[str, str]:
    params = {k: str(v.get("Default", "")) for k, v in sam.get("Parameters", {}).items()}
    params.update(overrides)
    return params


def post_checks(sam: dict, expanded: dict, phys: dict[str, str], params: dict[str, str], ep: str, region: str) -> Checks:
    c = Checks()
    lam = boto_client("lambda", ep, region)
    sqs = boto_client("sqs", ep, region)
    s3 = boto_client("s3", ep, region)
    ddb = boto_client("dynamodb", ep, region)
    events = boto_client("events", ep, region)
    iam = boto_client("iam", ep, region)

    queue_url, dlq_url = phys["HintQueue"], phys["HintDeadLetterQueue"]
    bucket, tbl = phys["StorageBucket"], phys["MembershipTable"]
    q_attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    dlq_attrs = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["All"])["Attributes"]

    res = expanded["Resources"]

    def prop(lid: str, *path: str) -> Any:
        node: Any = res.get(lid, {}).get("Properties", {})
        for p in path:
            node = node.get(p) if isinstance(node, dict) else None
        return node

    want_env = {
        "CARTWHEEL_BUCKET": bucket,
        "CARTWHEEL_TABLE": tbl,
        "CARTWHEEL_QUEUE_URL": queue_url,
        "CARTWHEEL_DLQ_URL": dlq_url,
        "CARTWHEEL_N": params["ReplicationN"],
        "CARTWHEEL_R": params["ReadQuorumR"],
        "CARTWHEEL_W": params["WriteQuorumW"],
        "CARTWHEEL_NODES": params["NodeCount"],
        "CARTWHEEL_ZONES": ",".join(z.strip() for z in params["Zones"].split(",")),
        "CARTWHEEL_Q": params["Partitions"],
        "CARTWHEEL_FAULTS": params["FaultInjection"],
        "CARTWHEEL_LWW": params["LastWriteWins"],
        "CARTWHEEL_ALLOWED_ENDPOINTS": ",".join(e.strip() for e in params["AllowedNodeEndpoints"].split(",") if e.strip()),
    }
    fn_cfg: dict[str, dict] = {}
    for lid in serverless_functions(sam):
        cfg = lam.get_function_configuration(FunctionName=phys[lid])
        fn_cfg[lid] = cfg
        c.expect(f"{lid}: runtime provided.al2023, handler bootstrap",
                 cfg.get("Runtime") == "provided.al2023" and cfg.get("Handler") == "bootstrap",
                 f"{cfg.get('Runtime')} {cfg.get('Handler')}")
        c.expect_or_template(f"{lid}: arm64", cfg.get("Architectures") == ["arm64"], prop(lid, "Architectures") == ["arm64"],
                             f"deployed {cfg.get('Architectures')}", "moto ignores Architectures")
        env = cfg.get("Environment", {}).get("Variables", {})
        # str(): moto hands Number parameters to Lambda as ints; CloudFormation passes strings.
        bad = {k: (env.get(k), v) for k, v in want_env.items() if str(env.get(k)) != v}
        c.expect(f"{lid}: CARTWHEEL_* environment", not bad, f"all {len(want_env)} set as expected" if not bad else f"got/want: {bad}")
        c.expect(f"{lid}: code uploaded", cfg.get("CodeSize", 0) > 0, f"{cfg.get('CodeSize', 0)} bytes")

    api_t = fn_cfg["ApiFunction"].get("Timeout")
    c.expect("ApiFunction: timeout 15 s, 256 MB", api_t == 15 and fn_cfg["ApiFunction"].get("MemorySize") == 256,
             f"{api_t} s, {fn_cfg['ApiFunction'].get('MemorySize')} MB")
    ae_t = fn_cfg["AntiEntropyFunction"].get("Timeout")
    c.expect("AntiEntropyFunction: timeout 300 s", ae_t == 300, f"{ae_t} s")

    handoff_t = int(fn_cfg["HandoffFunction"].get("Timeout", 0))
    vis = int(q_attrs.get("VisibilityTimeout", 0))
    c.expect("HintQueue: visibility >= 6x handoff timeout", vis >= 6 * handoff_t, f"{vis} s vs 6 x {handoff_t} s")
    redrive = json.loads(q_attrs.get("RedrivePolicy", "{}") or "{}")
    c.expect(
        "HintQueue: redrive to DLQ",
        redrive.get("deadLetterTargetArn") == dlq_attrs.get("QueueArn") and str(redrive.get("maxReceiveCount")) == params["HintMaxReceives"],
        json.dumps(redrive),
    )
    c.expect("HintDeadLetterQueue: 14-day retention", dlq_attrs.get("MessageRetentionPeriod") == "1209600",
             f"{dlq_attrs.get('MessageRetentionPeriod')} s")

    maps = lam.list_event_source_mappings(FunctionName=phys["HandoffFunction"])["EventSourceMappings"]
    m = next((m for m in maps if m.get("EventSourceArn") == q_attrs.get("QueueArn")), None)
    c.expect(
        "HandoffFunction: SQS mapping, batch 10, ReportBatchItemFailures",
        m is not None and m.get("BatchSize") == 10 and "ReportBatchItemFailures" in (m.get("FunctionResponseTypes") or []),
        "missing" if m is None else f"batch {m.get('BatchSize')}, {m.get('FunctionResponseTypes')}",
    )

    schedules = {"AntiEntropyFunction": params["AntiEntropySchedule"], "HealthFunction": "rate(1 minute)"}
    rule_ids = {lid: res for lid, res in expanded["Resources"].items() if res["Type"] == "AWS::Events::Rule"}
    for fn, want in schedules.items():
        fn_arn = fn_cfg[fn]["FunctionArn"]
        found = []
        for rid in rule_ids:
            if rid not in phys:
                continue
            rule = events.describe_rule(Name=phys[rid].split("/")[-1].split("|")[0])
            targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
            if any(t.get("Arn") == fn_arn for t in targets):
                found.append(rule.get("ScheduleExpression"))
        c.expect(f"{fn}: EventBridge schedule", found == [want], f"{found} (want {want!r})")

    t = ddb.describe_table(TableName=tbl)["Table"]
    billing = t.get("BillingModeSummary", {}).get("BillingMode")
    keys = [(k["AttributeName"], k["KeyType"]) for k in t["KeySchema"]]
    attrs = {a["AttributeName"]: a["AttributeType"] for a in t["AttributeDefinitions"]}
    c.expect("MembershipTable: on-demand, hash key pk (S)", billing == "PAY_PER_REQUEST" and keys == [("pk", "HASH")] and attrs.get("pk") == "S",
             f"{billing}, {keys}, {attrs}")
    pitr = ddb.describe_continuous_backups(TableName=tbl)["ContinuousBackupsDescription"]
    pitr_status = pitr.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")
    c.expect_or_template("MembershipTable: deletion protection", t.get("DeletionProtectionEnabled") is True,
                         prop("MembershipTable", "DeletionProtectionEnabled") is True,
                         f"deployed {t.get('DeletionProtectionEnabled')}", "the endpoint does not report DeletionProtectionEnabled")
    c.expect_or_template("MembershipTable: point-in-time recovery", pitr_status == "ENABLED",
                         prop("MembershipTable", "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled") is True,
                         f"deployed {pitr_status}", "moto ignores PointInTimeRecoverySpecification")

    try:
        enc = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        alg = enc["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
    except Exception as e:  # noqa: BLE001
        alg = f"none ({e})"
    c.expect("StorageBucket: SSE-S3", alg == "AES256", alg)
    try:
        pab = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except Exception as e:  # noqa: BLE001
        pab = {"error": str(e)}
    want_pab = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    tmpl_pab = prop("StorageBucket", "PublicAccessBlockConfiguration") or {}
    c.expect_or_template("StorageBucket: public access blocked", all(pab.get(k) is True for k in want_pab),
                         all(tmpl_pab.get(k) is True for k in want_pab),
                         "all four true" if "error" not in pab else "deployed: none",
                         "moto ignores PublicAccessBlockConfiguration")
    try:
        pol = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except Exception as e:  # noqa: BLE001
        pol = {"error": str(e)}
    deny_tls = any(
        st.get("Effect") == "Deny" and str(st.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")).lower() == "false"
        for st in pol.get("Statement", [])
    )
    c.expect("StorageBucket: policy denies non-TLS", deny_tls, "Deny when aws:SecureTransport=false" if deny_tls else json.dumps(pol))
    ver = s3.get_bucket_versioning(Bucket=bucket).get("Status", "off")
    c.expect("StorageBucket: versioning off", ver in ("off", "Suspended"), ver)

    # Least privilege: no inline statement of a function role allows every resource.
    for lid in serverless_functions(sam):
        role = fn_cfg[lid]["Role"].split("/")[-1]
        wild = []
        for pname in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            doc = iam.get_role_policy(RoleName=role, PolicyName=pname)["PolicyDocument"]
            if isinstance(doc, str):
                doc = parse_policy(doc)
            sts = doc.get("Statement", [])
            for st in sts if isinstance(sts, list) else [sts]:
                res = st.get("Resource")
                if res == "*" or (isinstance(res, list) and "*" in res):
                    wild.append(f"{pname}: {st.get('Action')}")
        c.expect(f"{lid}: role has no Resource \"*\" statements", not wild, "; ".join(wild) or "inline policies scoped to the stack's resources")

    kinds = {
        f"arn:aws:s3:::{bucket}/*": "objects",
        f"arn:aws:s3:::{bucket}": "bucket",
        q_attrs.get("QueueArn"): "queue",
        dlq_attrs.get("QueueArn"): "dlq",
        t.get("TableArn"): "table",
    }
    check_least_privilege(c, iam, {lid: fn_cfg[lid]["Role"].split("/")[-1] for lid in serverless_functions(sam)}, kinds)
    check_audit_logs(c, boto_client("logs", ep, region), sam, phys, params)
    check_caller_policies(c, iam, phys)
    check_api(c, expanded, params, fn_cfg)
    return c


# What each function's code calls, by resource (infra/s3store, infra/sqshints, infra/ddbmembership,
# and the SQS event source mapping for HandoffFunction). A role must grant exactly this: nothing more
# (least privilege) and nothing less (the code would fail). GetObject also covers HeadObject, and
# ListBucket makes a missing object answer 404 instead of 403; DeleteMessage covers
# DeleteMessageBatch and SendMessage SendMessageBatch.
FUNCTION_NEEDS: dict[str, dict[str, set[str]]] = {
    "ApiFunction": {  # coordinator (hints), admin routes (stats, repair/commit/reap: deletes)
        "objects": {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"},
        "bucket": {"s3:ListBucket"},
        "queue": {"sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"},
        "dlq": {"sqs:GetQueueAttributes"},
        "table": {"dynamodb:GetItem", "dynamodb:PutItem"},
    },
    "HandoffFunction": {  # delivers a hint: merge into the home replica, delete the fallback's copy
        "objects": {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"},
        "bucket": {"s3:ListBucket"},
        "queue": {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"},
        "table": {"dynamodb:GetItem", "dynamodb:PutItem"},
    },
    "AntiEntropyFunction": {  # repair: list, read, write, reap; leaves and drains hints
        "objects": {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"},
        "bucket": {"s3:ListBucket"},
        "queue": {"sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"},
        "table": {"dynamodb:GetItem", "dynamodb:PutItem"},
    },
    "HealthFunction": {  # one ListObjectsV2 per node; records up/down in membership
        "bucket": {"s3:ListBucket"},
        "table": {"dynamodb:GetItem", "dynamodb:PutItem"},
    },
}

BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


def check_least_privilege(c: Checks, iam, roles: dict[str, str], kinds: dict[str, str]) -> None:
    """Every function role grants exactly FUNCTION_NEEDS (inline policies) plus CloudWatch Logs."""
    for lid, role in roles.items():
        granted: dict[str, set[str]] = {}
        other = []
        for pname in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            doc = iam.get_role_policy(RoleName=role, PolicyName=pname)["PolicyDocument"]
            if isinstance(doc, str):
                doc = parse_policy(doc)
            sts = doc.get("Statement", [])
            for st in sts if isinstance(sts, list) else [sts]:
                if st.get("Effect") != "Allow":
                    continue
                acts = st.get("Action", [])
                acts = [acts] if isinstance(acts, str) else acts
                rs = st.get("Resource", [])
                for r in [rs] if isinstance(rs, str) else rs:
                    kind = kinds.get(r)
                    if kind is None:
                        other.append(f"{acts} on {r}")
                        continue
                    granted.setdefault(kind, set()).update(acts)
        want = FUNCTION_NEEDS.get(lid, {})
        extra = {k: sorted(v - want.get(k, set())) for k, v in granted.items() if v - want.get(k, set())}
        missing = {k: sorted(v - granted.get(k, set())) for k, v in want.items() if v - granted.get(k, set())}
        detail = "; ".join(f"{k}: {' '.join(sorted(v))}" for k, v in sorted(granted.items()))
        if extra or other:
            detail = f"grants more than the code calls: {extra} {other}"
        elif missing:
            detail = f"misses what the code calls: {missing}"
        c.expect(f"{lid}: role grants exactly what the code calls", not (extra or other or missing), detail)
        attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]]
        c.expect(f"{lid}: managed policies: CloudWatch Logs only", set(attached) <= {BASIC_EXECUTION}, ", ".join(attached) or "none")


def check_audit_logs(c: Checks, logs, sam: dict, phys: dict[str, str], params: dict[str, str]) -> None:
    """Every function's log group and the API's access log group exist with LogRetentionDays."""
    want = int(params["LogRetentionDays"])
    groups = [lid for lid, r in sam["Resources"].items() if r["Type"] == "AWS::Logs::LogGroup"]
    fns = set(serverless_functions(sam))
    covered = {lid.removesuffix("LogGroup") for lid in groups} & fns
    c.expect("log groups: one per function", covered == fns, f"{sorted(covered)} of {sorted(fns)}")
    for lid in groups:
        name = phys.get(lid, "")
        found = [g for g in logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups", []) if g["logGroupName"] == name]
        got = found[0].get("retentionInDays") if found else None
        c.expect(f"{lid}: retention {want} days", got == want, f"{name}: {got if found else 'missing'}")


def check_caller_policies(c: Checks, iam, phys: dict[str, str]) -> None:
    """The caller policies exist; the data ones deny /admin and /ui explicitly."""
    for lid, deny in (("DataReaderPolicy", True), ("DataWriterPolicy", True), ("OperatorPolicy", False)):
        arn = phys.get(lid, "")
        try:
            pol = iam.get_policy(PolicyArn=arn)["Policy"]
            doc = iam.get_policy_version(PolicyArn=arn, VersionId=pol["DefaultVersionId"])["PolicyVersion"]["Document"]
            doc = parse_policy(doc) if isinstance(doc, str) else doc
        except Exception as e:  # noqa: BLE001
            c.fail(f"{lid}: managed policy", f"{arn}: {e}")
            continue
        sts = doc.get("Statement", [])
        denies = [st for st in (sts if isinstance(sts, list) else [sts]) if st.get("Effect") == "Deny"
                  and any("/admin" in r for r in (st.get("Resource") if isinstance(st.get("Resource"), list) else [st.get("Resource", "")]))]
        c.expect(f"{lid}: managed policy" + (", explicit Deny on /admin and /ui" if deny else ""), bool(denies) == deny,
                 f"{len(sts)} statements, {len(denies)} Deny on /admin")


def evaluate(node: Any, params: dict[str, str], expanded: dict) -> Any:
    """Ref (parameters, AWS::NoValue -> None), Fn::FindInMap, Fn::If, Fn::Equals, Fn::Not and
    Fn::Join with the stack's parameters; other intrinsics are left as they are."""
    if isinstance(node, list):
        return [evaluate(n, params, expanded) for n in node]
    if not isinstance(node, dict):
        return node
    if len(node) != 1:
        return {k: evaluate(v, params, expanded) for k, v in node.items()}
    (fn, arg), = node.items()
    if fn == "Ref" and arg == "AWS::NoValue":
        return None
    if fn == "Ref" and arg in params:
        return params[arg]
    if fn == "Fn::FindInMap":
        m, k1, k2 = evaluate(arg, params, expanded)
        return expanded["Mappings"][m][k1][k2]
    if fn == "Fn::Equals":
        a, b = evaluate(arg, params, expanded)
        return str(a) == str(b)
    if fn == "Fn::If":
        cond = evaluate(expanded["Conditions"][arg[0]], params, expanded)
        return evaluate(arg[1] if cond else arg[2], params, expanded)
    if fn == "Fn::Not":
        return not evaluate(arg[0], params, expanded)
    if fn == "Fn::Join":
        sep, items = arg[0], evaluate(arg[1], params, expanded)
        return sep.join(str(i) for i in items) if isinstance(items, list) else str(items)
    return node if fn.startswith("Fn::") or fn == "Ref" else {fn: evaluate(arg, params, expanded)}


def check_api(c: Checks, expanded: dict, params: dict[str, str], fn_cfg: dict) -> None:
    """moto's CloudFormation has no AWS::ApiGatewayV2: the HTTP API is checked in the expanded
    template, with this deployment's parameters. Every route must reach the api function with its
    expected authorizer: AWS_IAM for the admin API and the dashboard whatever DataApiAuth says,
    DataApiAuth's type (AWS_IAM, JWT with the JWT authorizer, NONE) for the data routes."""
    res = expanded["Resources"]
    mode = params["DataApiAuth"]
    data_type = {"iam": "AWS_IAM", "jwt": "JWT", "none": "NONE"}[mode]
    routes = {lid: r for lid, r in res.items() if r["Type"] == "AWS::ApiGatewayV2::Route"}
    c.expect("HttpApi: routes declared", len(routes) > 0, f"{len(routes)} routes")
    ja = res.get("JwtAuthorizer")
    jwt_exists = ja is not None and (not ja.get("Condition") or evaluate(expanded["Conditions"][ja["Condition"]], params, expanded))
    cors = evaluate(expanded["Conditions"]["CorsEnabled"], params, expanded)
    c.expect(f"HttpApi: CORS {'on' if cors else 'off'} as CorsAllowOrigins says",
             bool(evaluate(res["HttpApi"]["Properties"].get("CorsConfiguration"), params, expanded)) == cors,
             json.dumps(evaluate(res["HttpApi"]["Properties"].get("CorsConfiguration"), params, expanded)))
    for lid, r in sorted(routes.items(), key=lambda kv: kv[1]["Properties"]["RouteKey"]):
        p = r["Properties"]
        key = p["RouteKey"]
        if r.get("Condition") and not evaluate(expanded["Conditions"][r["Condition"]], params, expanded):
            c.expect(f"route {key}: not created ({r['Condition']} is false)", r["Condition"] == "CorsEnabled", r["Condition"])
            continue
        path = key.split(" ", 1)[-1]
        admin = path.startswith("/admin") or path == "/ui" or path.startswith("/ui/")
        want = "AWS_IAM" if admin else data_type
        if key.startswith("OPTIONS "):
            want = "NONE"  # a CORS preflight carries no credentials
        got = evaluate(p.get("AuthorizationType"), params, expanded)
        authorizer = evaluate(p.get("AuthorizerId"), params, expanded)
        want_authorizer = {"Ref": "JwtAuthorizer"} if want == "JWT" else None
        target_ok = p.get("Target") == {"Fn::Sub": "integrations/${ApiIntegration}"} and p.get("ApiId") == {"Ref": "HttpApi"}
        c.expect(f"route {key}: {want}" + (" (JwtAuthorizer)" if want_authorizer else ""),
                 got == want and authorizer == want_authorizer and target_ok,
                 f"{got}, authorizer {authorizer}, target {'api function' if target_ok else p.get('Target')}")
    c.expect(f"JwtAuthorizer exists exactly when DataApiAuth=jwt ({mode})", bool(jwt_exists) == (mode == "jwt"),
             "created" if jwt_exists else "not created")
    integ = res.get("ApiIntegration", {}).get("Properties", {})
    c.expect("ApiIntegration: AWS_PROXY to ApiFunction, payload 2.0",
             integ.get("IntegrationType") == "AWS_PROXY" and integ.get("IntegrationUri") == {"Fn::GetAtt": ["ApiFunction", "Arn"]}
             and integ.get("PayloadFormatVersion") == "2.0", json.dumps(integ))
    perm = res.get("ApiInvokePermission", {}).get("Properties", {})
    c.expect("ApiInvokePermission: only this API may invoke ApiFunction",
             perm.get("Principal") == "apigateway.amazonaws.com" and perm.get("FunctionName") == {"Ref": "ApiFunction"}
             and "${HttpApi}" in json.dumps(perm.get("SourceArn")), json.dumps(perm.get("SourceArn")))
    stage = res.get("HttpApiStage", {}).get("Properties", {})
    drs = evaluate(stage.get("DefaultRouteSettings", {}), params, expanded)
    rate, burst = drs.get("ThrottlingRateLimit"), drs.get("ThrottlingBurstLimit")
    als = stage.get("AccessLogSettings", {})
    fmt = als.get("Format", "")
    c.expect("HttpApiStage: access logs with the caller's identity",
             als.get("DestinationArn") == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
             and all(v in fmt for v in ("$context.identity.userArn", "$context.authorizer.claims.sub", "$context.identity.sourceIp", "$context.routeKey")),
             fmt[:80] + "..." if fmt else "none")
    c.expect("HttpApiStage: default route throttling set (429 past it)",
             str(rate) == params["ThrottleRateLimit"] and str(burst) == params["ThrottleBurstLimit"] and float(rate) > 0 and int(burst) > 0
             and stage.get("StageName") == "$default" and stage.get("AutoDeploy") is True,
             f"rate {rate}/s, burst {burst}")



# --------------------------------------------------------------------------- smoke test (--smoke)
#
# moto creates the Lambda functions but cannot run them (no Docker). --smoke runs each function's
# real code on this machine instead: built for the host, started as a `bootstrap` process with the
# environment the stack gave the deployed function (plus AWS_ENDPOINT_URL), fed events through a
# minimal Lambda Runtime API served here (the protocol aws-lambda-go speaks with -tags lambda.norpc).


class FakeRuntimeAPI:
    """Just enough of the Lambda Runtime API (2018-06-01) for one function process."""

    PREFIX = "/2018-06-01/runtime/"

    def __init__(self, function_arn: str):
        import queue
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.events: "queue.Queue[tuple[str, bytes, int]]" = queue.Queue()
        self.results: dict[str, tuple[str, bytes]] = {}
        self.cond = threading.Condition()
        self.closing = False
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # quiet
                pass

            def _reply(self, code: int, body: bytes = b"", headers: dict | None = None) -> None:
                try:
                    self.send_response(code)
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the function process went away

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                    return self.rfile.read(int(self.headers.get("Content-Length") or 0))
                out = bytearray()  # aws-lambda-go streams responses with chunked encoding
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return bytes(out)
                    out += self.rfile.read(size)
                    self.rfile.readline()

            def do_GET(self):
                if self.path != api.PREFIX + "invocation/next":
                    return self._reply(404)
                while True:
                    try:
                        rid, body, deadline_ms = api.events.get(timeout=0.2)
                        break
                    except queue.Empty:
                        if api.closing:
                            return self._reply(503)
                self._reply(200, body, {
                    "Content-Type": "application/json",
                    "Lambda-Runtime-Aws-Request-Id": rid,
                    "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": function_arn,
                    "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
                })

            def do_POST(self):
                body = self._body()
                rest = self.path[len(api.PREFIX):] if self.path.startswith(api.PREFIX) else ""
                parts = rest.split("/")
                if rest == "init/error":
                    key, kind = "init", "init-error"
                elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    key, kind = parts[1], parts[2]
                else:
                    return self._reply(404)
                with api.cond:
                    api.results[key] = (kind, body)
                    api.cond.notify_all()
                self._reply(202, b"{}", {"Content-Type": "application/json"})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.address = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def invoke(self, event: dict, timeout: float, proc: subprocess.Popen) -> tuple[str, Any]:
        rid = str(uuid.uuid4())
        self.events.put((rid, json.dumps(event).encode(), int((time.time() + timeout) * 1000)))
        deadline = time.monotonic() + timeout + 5
        with self.cond:
            while rid not in self.results and "init" not in self.results:
                if proc.poll() is not None:
                    return "exited", f"process exited with {proc.returncode}"
                if time.monotonic() > deadline:
                    return "timeout", f"no answer within {timeout + 5:.0f} s"
                self.cond.wait(0.2)
            kind, body = self.results.get(rid) or self.results["init"]
        try:
            return kind, json.loads(body)
        except ValueError:
            return kind, body.decode(errors="replace")

    def close(self) -> None:
        self.closing = True
        self.httpd.shutdown()
        self.httpd.server_close()


def build_host_binary(name: str, moddir: Path, pkgdir: str, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("GOOS", "GOARCH")}
    env["CGO_ENABLED"] = "0"
    cmd = [os.environ.get("GO", "go"), "build", "-tags", "lambda.norpc", "-trimpath", "-o", str(out), f"{pkgdir}/{name}"]
    r = subprocess.run(cmd, cwd=moddir, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure(f"building {pkgdir}/{name} for the host failed:\n{r.stderr}")


def http_event(method: str, route: str, path: str, body: str = "", params: dict | None = None, iam: bool = False,
               route_method: str | None = None) -> dict:
    # route_method: the route's method when it differs from the request's (ANY /admin/{proxy+}).
    route_key = f"{route_method or method} {route}"
    ctx: dict[str, Any] = {
        "accountId": "123456789012", "apiId": "local", "domainName": "local.execute-api.localhost",
        "domainPrefix": "local", "requestId": str(uuid.uuid4()), "routeKey": route_key, "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()), "timeEpoch": int(time.time() * 1000),
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "deploy-local"},
    }
    if iam:
        ctx["authorizer"] = {"iam": {"accessKey": "AKIDLOCAL", "accountId": "123456789012", "callerId": "AIDALOCAL",
                                     "principalOrgId": None, "userArn": "arn:aws:iam::123456789012:user/deploy-local",
                                     "userId": "AIDALOCAL"}}
    return {
        "version": "2.0", "routeKey": route_key, "rawPath": path, "rawQueryString": "",
        "headers": {"host": "local.execute-api.localhost", "content-type": "application/octet-stream"},
        "pathParameters": params or {}, "requestContext": ctx, "body": body, "isBase64Encoded": False,
    }


def schedule_event(rule_arn: str) -> dict:
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "region": "us-east-1", "resources": [rule_arn], "detail": {}}


def smoke_test(sam: dict, phys: dict[str, str], endpoint: str, region: str, moddir: Path, pkgdir: str) -> Checks:
    c = Checks()
    lam = boto_client("lambda", endpoint, region)
    sqs = boto_client("sqs", endpoint, region)
    procs: list[tuple[subprocess.Popen, FakeRuntimeAPI]] = []
    queue_arn = sqs.get_queue_attributes(QueueUrl=phys["HintQueue"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def start(lid: str) -> tuple[subprocess.Popen, FakeRuntimeAPI, int]:
        name = function_zip_name(lid)
        exe = WORK / "host" / name / "bootstrap"
        build_host_binary(name, moddir, pkgdir, exe)
        cfg = lam.get_function_configuration(FunctionName=phys[lid])
        api = FakeRuntimeAPI(cfg["FunctionArn"])
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CARTWHEEL_"))}
        env.update({k: str(v) for k, v in cfg.get("Environment", {}).get("Variables", {}).items()})
        env.update({
            "AWS_LAMBDA_RUNTIME_API": api.address, "AWS_LAMBDA_FUNCTION_NAME": cfg["FunctionName"],
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(cfg.get("MemorySize", 128)), "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_REGION": region, "AWS_DEFAULT_REGION": region, "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "_HANDLER": "bootstrap",
        })
        logf = open(WORK / f"smoke-{name}.log", "wb")
        proc = subprocess.Popen([str(exe)], env=env, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        procs.append((proc, api))
        return proc, api, int(cfg.get("Timeout", 3))

    def tail(lid: str) -> str:
        try:
            lines = (WORK / f"smoke-{function_zip_name(lid)}.log").read_text(errors="replace").splitlines()
            return " | ".join(lines[-3:])
        except OSError:
            return ""

    try:
        # ApiFunction: a put/get/delete round trip through the real handler, then an admin route.
        proc, api, tmo = start("ApiFunction")
        key = "smoke/é key"
        enc = urllib.parse.quote(key, safe="")
        value = f"hello from deploy-local {uuid.uuid4().hex[:8]}"
        steps = [
            ("PUT /kv/{key}", http_event("PUT", "/kv/{key}", f"/kv/{enc}", value, {"key": enc}), lambda r: r.get("statusCode") in (200, 204)),
            ("GET /kv/{key}", http_event("GET", "/kv/{key}", f"/kv/{enc}", "", {"key": enc}),
             lambda r: r.get("statusCode") == 200 and (r.get("body") == value or (r.get("isBase64Encoded") and __import__("base64").b64decode(r.get("body", "")).decode(errors="replace") == value))),
            ("DELETE /kv/{key}", http_event("DELETE", "/kv/{key}", f"/kv/{enc}", "", {"key": enc}), lambda r: r.get("statusCode") in (200, 204)),
            ("GET /kv/{key} after delete", http_event("GET", "/kv/{key}", f"/kv/{enc}", "", {"key": enc}), lambda r: r.get("statusCode") == 404),
            ("GET /admin/nodes (IAM)", http_event("GET", "/admin/{proxy+}", "/admin/nodes", "", {"proxy": "nodes"}, iam=True, route_method="ANY"),
             lambda r: r.get("statusCode") == 200),
            # The admin API only through its own route with an IAM caller (issue 29): $default gets 403.
            ("GET /admin/nodes through $default (403)", {**http_event("GET", "/admin/{proxy+}", "/admin/nodes", "", {"proxy": "nodes"}, iam=True),
                                                         "routeKey": "$default"}, lambda r: r.get("statusCode") == 403),
            ("GET /ui (IAM)", http_event("GET", "/ui", "/ui", iam=True), lambda r: r.get("statusCode") == 200),
        ]
        for what, ev, good in steps:
            kind, r = api.invoke(ev, tmo, proc)
            ok = kind == "response" and isinstance(r, dict) and good(r)
            seen = f"{r.get('statusCode')}" if isinstance(r, dict) and kind == "response" else f"{kind}: {str(r)[:200]} {tail('ApiFunction')}"
            c.expect(f"smoke ApiFunction {what}", ok, seen)

        # HandoffFunction: a poison hint must come back as a batch item failure (so SQS retries it,
        # then dead-letters it), not fail the whole batch.
        proc, api, tmo = start("HandoffFunction")
        mid = str(uuid.uuid4())
        sqs_event = {"Records": [{
            "messageId": mid, "receiptHandle": "local", "body": "not a hint", "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {}, "md5OfBody": hashlib.md5(b"not a hint").hexdigest(), "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn, "awsRegion": region}]}
        kind, r = api.invoke(sqs_event, tmo, proc)
        failures = [f.get("itemIdentifier") for f in (r.get("batchItemFailures") or [])] if isinstance(r, dict) else []
        c.expect("smoke HandoffFunction: poison hint reported as batch item failure", kind == "response" and failures == [mid],
                 f"{kind}: {json.dumps(r)[:200]}" if kind == "response" else f"{kind}: {r} {tail('HandoffFunction')}")

        for lid, rule in (("HealthFunction", "HealthFunctionProbe"), ("AntiEntropyFunction", "AntiEntropyFunctionSweep")):
            proc, api, tmo = start(lid)
            kind, r = api.invoke(schedule_event(f"arn:aws:events:{region}:123456789012:rule/{phys.get(rule, rule)}"), tmo, proc)
            c.expect(f"smoke {lid}: scheduled run", kind == "response",
                     json.dumps(r)[:200] if kind == "response" else f"{kind}: {str(r)[:200]} {tail(lid)}")
    finally:
        for proc, api in procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            api.close()
    return c

# --------------------------------------------------------------------------- teardown


def empty_and_delete_bucket(s3, bucket: str) -> None:
    try:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            objs = [{"Key": o["Key"], "VersionId": o["VersionId"]} for o in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            if objs:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": objs, "Quiet": True})
        s3.delete_bucket(Bucket=bucket)
    except s3.exceptions.NoSuchBucket:
        pass
    except Exception as e:  # noqa: BLE001
        if "NoSuchBucket" not in str(e):
            raise


DEPLOY_BUCKET_TAG = "cartwheel:deploy-bucket"


def teardown_stack(cfn, s3, ddb, stack: str, timeout: float) -> None:
    """Delete a stack made by this script, the resources it retains (bucket, table: DeletionPolicy
    Retain keeps the data of a real deployment, but this is a throwaway one) and its code bucket."""
    desc = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    tags = {t["Key"]: t["Value"] for t in desc.get("Tags", [])}
    body = cfn.get_template(StackName=stack)["TemplateBody"]
    tpl = body if isinstance(body, dict) else json.loads(body)
    retained = [(lid, r["Type"]) for lid, r in tpl.get("Resources", {}).items() if r.get("DeletionPolicy") == "Retain"]
    phys = {s["LogicalResourceId"]: s.get("PhysicalResourceId") for s in list_resources(cfn, stack) if s.get("LogicalResourceId")}
    for lid, rtype in retained:  # a throwaway stack: lift the table's deletion protection first
        if rtype == "AWS::DynamoDB::Table" and phys.get(lid):
            try:
                ddb.update_table(TableName=phys[lid], DeletionProtectionEnabled=False)
            except ddb.exceptions.ResourceNotFoundException:
                pass
    cfn.delete_stack(StackName=stack)
    st = wait_stack(cfn, stack, timeout)
    log(f"deploy-local: deleted stack {stack} ({st})")
    for lid, rtype in retained:
        name = phys.get(lid)
        if not name:
            continue
        if rtype == "AWS::S3::Bucket":
            exists = name in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
            if exists:
                empty_and_delete_bucket(s3, name)
        elif rtype == "AWS::DynamoDB::Table":
            try:
                ddb.delete_table(TableName=name)
                exists = True
            except ddb.exceptions.ResourceNotFoundException:
                exists = False
        elif rtype == "AWS::Logs::LogGroup":
            logs = boto_client("logs", cfn.meta.endpoint_url, cfn.meta.region_name)
            try:
                logs.delete_log_group(logGroupName=name)
                exists = True
            except logs.exceptions.ResourceNotFoundException:
                exists = False
        else:
            log(f"deploy-local: retained {rtype} {name} left in place (no cleanup rule)")
            continue
        if exists:
            log(f"deploy-local: {lid} {name} outlived the stack (DeletionPolicy: Retain); deleted it")
        else:
            log(f"deploy-local: {lid} {name} was deleted with the stack (the endpoint ignores DeletionPolicy: Retain)")
    if tags.get(DEPLOY_BUCKET_TAG):
        empty_and_delete_bucket(s3, tags[DEPLOY_BUCKET_TAG])


# --------------------------------------------------------------------------- commands


def parse_params(items: list[str]) -> dict[str, str]:
    out = {}
    for it in items:
        if "=" not in it:
            raise Failure(f"--param wants Key=Value, got {it!r}")
        k, v = it.split("=", 1)
        out[k] = v
    return out


def pick_endpoint(args) -> tuple[str | None, list[str]]:
    notes = []
    for source, url in (("--endpoint", args.endpoint), ("CARTWHEEL_TEST_ENDPOINT", os.environ.get("CARTWHEEL_TEST_ENDPOINT")),
                        ("AWS_ENDPOINT_URL", os.environ.get("AWS_ENDPOINT_URL"))):
        if not url:
            continue
        if is_aws(url):
            raise Failure(f"{source}={url} looks like real AWS; deploy-local only talks to local endpoints")
        problem = endpoint_problem(url, args.region)
        if problem is None:
            return url, [*notes, f"using {source}={url}"]
        notes.append(f"not using {source}={url}: {problem}")
        if source == "--endpoint":
            raise Failure(notes[-1])
    return None, notes


def cmd_deploy(args) -> int:
    sam = load_sam_template(Path(args.template))
    functions = serverless_functions(sam)
    zips = {lid: Path(args.zip_dir) / f"{function_zip_name(lid)}.zip" for lid in functions}
    missing = [str(p) for p in zips.values() if not p.is_file()]
    if missing:
        raise Failure(f"missing Lambda zips {missing}: run `make lambda-zips` first (or `make deploy-local`)")
    overrides = parse_params(args.param)
    unknown = set(overrides) - set(sam.get("Parameters", {}))
    if unknown:
        raise Failure(f"unknown template parameters: {sorted(unknown)}")
    params = effective_params(sam, overrides)

    started: Moto | LocalstackUp | None = None  # an endpoint this run brought up
    cfn = s3 = None
    stack = args.stack_name or f"cartwheel-local-{uuid.uuid4().hex[:8]}"
    deploy_bucket = f"cartwheel-deploy-{uuid.uuid4().hex[:12]}"
    created_stack = False
    keep = args.keep
    endpoint = None
    rc = 1
    cleanup_failed = False

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    old_term = signal.signal(signal.SIGTERM, on_signal)
    try:
        endpoint, notes = pick_endpoint(args)
        for n in notes:
            log(f"deploy-local: {n}")
        if endpoint is None and not args.own_moto and LOCALSTACK_UP.is_file() and os.access(LOCALSTACK_UP, os.X_OK):
            try:
                up = LocalstackUp()
                started = up if up.started else None
                problem = endpoint_problem(up.url, args.region)
                if problem is None:
                    endpoint = up.url
                    log(f"deploy-local: using {up.describe()}")
                else:
                    log(f"deploy-local: not using localstack/up's {up.url}: {problem}")
                    if started:
                        started.stop()
                        started = None
            except (Failure, subprocess.TimeoutExpired, OSError) as e:
                log(f"deploy-local: {e}; falling back to a private moto_server")
        if endpoint is None:
            started = Moto(WORK / "moto.log")
            endpoint = started.url
            log(f"deploy-local: started {started.describe()}")
        cfn = boto_client("cloudformation", endpoint, args.region)
        s3 = boto_client("s3", endpoint, args.region)

        # 3. upload the code
        s3.create_bucket(Bucket=deploy_bucket)
        code = {}
        for lid, z in zips.items():
            digest = hashlib.sha256(z.read_bytes()).hexdigest()[:16]
            key = f"lambda/{z.stem}-{digest}.zip"
            s3.upload_file(str(z), deploy_bucket, key)
            code[lid] = (deploy_bucket, key)
        log(f"deploy-local: uploaded {len(code)} zips to s3://{deploy_bucket}/lambda/")

        # 4. expand the SAM template
        expanded = translate(sam, code, args.region)
        WORK.mkdir(parents=True, exist_ok=True)
        out = WORK / f"{stack}.template.json"
        out.write_text(json.dumps(expanded, indent=2, sort_keys=True))
        types: dict[str, int] = {}
        for r in expanded["Resources"].values():
            types[r["Type"]] = types.get(r["Type"], 0) + 1
        log(f"deploy-local: expanded template.yaml to {len(expanded['Resources'])} CloudFormation resources ({out.relative_to(REPO)})")

        # 5. create the stack (delete an old one of the same name first: idempotent)
        if wait_stack(cfn, stack, args.timeout) not in ("GONE", "DELETE_COMPLETE"):
            log(f"deploy-local: stack {stack} exists; deleting it first")
            teardown_stack(cfn, s3, boto_client("dynamodb", endpoint, args.region), stack, args.timeout)
        t0 = time.monotonic()
        cfn.create_stack(
            StackName=stack,
            TemplateBody=json.dumps(expanded),
            # Every parameter, defaults included: moto 5.2 splits a CommaDelimitedList only when it is
            # passed in (a defaulted one stays a string, and Fn::Join then joins its characters).
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(params.items())],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
            OnFailure="DO_NOTHING",
            Tags=[{"Key": "cartwheel:deploy", "Value": "local"}, {"Key": DEPLOY_BUCKET_TAG, "Value": deploy_bucket}],
        )
        created_stack = True
        status = wait_stack(cfn, stack, args.timeout)
        log(f"deploy-local: stack {stack}: {status} in {time.monotonic() - t0:.1f} s")

        # 6. every resource CREATE_COMPLETE (ApiGatewayV2 expected-skipped on moto)
        summaries = list_resources(cfn, stack)
        rows, problems = check_resources(expanded, summaries, params)
        phys = {s["LogicalResourceId"]: s.get("PhysicalResourceId", "") for s in summaries if s.get("LogicalResourceId")}
        if status == "CREATE_COMPLETE":
            problems += apply_bucket_policies(expanded, phys, params, args.region, s3)
        log("")
        log(table(rows, ["LogicalId", "Type", "Status", "PhysicalId / note"]))
        log("")
        n_ok = sum(1 for r in rows if r[2] == "CREATE_COMPLETE")
        n_skip = sum(1 for r in rows if r[2] == "SKIPPED")
        log(f"deploy-local: {len(rows)} resources: {n_ok} CREATE_COMPLETE, {n_skip} expected-skipped "
            f"(types moto's CloudFormation lacks), {len(problems)} problems")
        if status != "CREATE_COMPLETE":
            problems.insert(0, f"stack status {status}")
            print_events(cfn, stack)
        for p in problems:
            log(f"  FAIL {p}")

        stack_desc = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack_desc.get("Outputs", [])}
        if outputs:
            log("")
            log(table([[k, v] for k, v in sorted(outputs.items())], ["Output", "Value"]))
        if any("${" in v for v in outputs.values()):
            log("(an output still holding ${...} names a resource the endpoint skipped, e.g. the HTTP API on moto)")
        want_outputs = set(sam.get("Outputs", {}))
        if not want_outputs <= set(outputs):
            problems.append(f"missing outputs {sorted(want_outputs - set(outputs))}")
            log(f"  FAIL missing outputs {sorted(want_outputs - set(outputs))}")

        if not problems and not args.no_checks:
            checks = post_checks(sam, expanded, phys, params, endpoint, args.region)
            log("")
            log(table([list(r) for r in checks.results], ["Check", "What", "Seen"]))
            for r in checks.failed:
                problems.append(f"check failed: {r[1]}: {r[2]}")
            log(f"\ndeploy-local: {len(checks.results) - len(checks.failed)}/{len(checks.results)} configuration checks passed")
            for p in problems:
                log(f"  FAIL {p}")

        if status == "CREATE_COMPLETE" and (args.smoke or keep):
            for b in remove_tls_only_policies(expanded, phys, s3):
                log(f"deploy-local: removed the TLS-only bucket policy of {b} again: moto enforces bucket policies, "
                    "and a plain-HTTP endpoint would be denied everything")

        if not problems and args.smoke:
            log("\ndeploy-local: smoke test: running each function's code on this host against the stack's resources")
            smoke = smoke_test(sam, phys, endpoint, args.region, Path(args.moddir), args.pkgdir)
            log(table([list(r) for r in smoke.results], ["Smoke", "What", "Seen"]))
            for r in smoke.failed:
                problems.append(f"smoke failed: {r[1]}: {r[2]}")
            log(f"\ndeploy-local: {len(smoke.results) - len(smoke.failed)}/{len(smoke.results)} smoke checks passed "
                f"(process logs: {WORK.relative_to(REPO)}/smoke-*.log)")

        rc = 1 if problems else 0
    except KeyboardInterrupt:
        log("deploy-local: interrupted; cleaning up")
        keep = False
        rc = 130
    except Failure:
        keep = False
        raise
    except Exception:  # noqa: BLE001 - report, clean up, fail
        import traceback

        traceback.print_exc()
        keep = False
        rc = 1
    finally:
        signal.signal(signal.SIGTERM, old_term)
        # 8. tear down
        if not keep and cfn is not None:
            try:
                if created_stack:
                    teardown_stack(cfn, s3, boto_client("dynamodb", endpoint, args.region), stack, args.timeout)
                empty_and_delete_bucket(s3, deploy_bucket)
            except Exception as e:  # noqa: BLE001
                log(f"deploy-local: cleanup on {endpoint} failed: {e}")
                cleanup_failed = True
        if started is not None and not keep:
            started.stop()
            log(f"deploy-local: stopped {started.describe()}")
    if cleanup_failed and rc == 0:
        rc = 1
    if rc != 130:
        log(f"\ndeploy-local: {'OK' if rc == 0 else 'FAILED'}")
    if keep and rc != 130:
        log(f"deploy-local: --keep: stack {stack} left on {endpoint} (export AWS_ENDPOINT_URL={endpoint})")
        if started is not None:
            log(f"deploy-local: {started.describe()} left running; stop it with: {started.stop_hint()}")
    return rc


def cmd_translate(args) -> int:
    sam = load_sam_template(Path(args.template))
    code = {lid: ("cartwheel-deploy-example", f"lambda/{function_zip_name(lid)}.zip") for lid in serverless_functions(sam)}
    expanded = translate(sam, code, args.region)
    text = json.dumps(expanded, indent=2, sort_keys=True) + "\n"
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text)
        log(f"wrote {args.output} ({len(expanded['Resources'])} resources)")
    return 0


def cmd_zip(args) -> int:
    src, dst = Path(args.src), Path(args.dst)
    if not src.is_file():
        raise Failure(f"{src}: no such file")
    zip_bootstrap(src, dst)
    log(f"{dst}: {dst.stat().st_size} bytes ({src.stat().st_size} bytes uncompressed)")
    return 0


def main(argv: list[str]) -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--template", default=str(TEMPLATE), help="SAM template (default: %(default)s)")
    common.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
                        help="region (default: $AWS_REGION, $AWS_DEFAULT_REGION or %(default)s)")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd")

    d = sub.add_parser("deploy", parents=[common], help="deploy to a local endpoint and check (default)")
    d.add_argument("--zip-dir", default=str(REPO / "build" / "lambda"), help="where <name>.zip are (default: %(default)s)")
    d.add_argument("--endpoint", help="local endpoint to use (must answer S3 and CloudFormation)")
    d.add_argument("--own-moto", action="store_true",
                   help="skip localstack/up: start a private moto_server on a free port (stopped at the end)")
    d.add_argument("--stack-name", help="default: cartwheel-local-<random>; an existing stack of that name is deleted first")
    d.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="template parameter override (repeatable)")
    d.add_argument("--keep", action="store_true", help="leave the stack (and a moto_server this script started) running")
    d.add_argument("--no-checks", action="store_true", help="only check resource statuses, not their configuration")
    d.add_argument("--smoke", action="store_true",
                   help="also run each function's code (built for this host) against the deployed resources")
    d.add_argument("--moddir", default=str(REPO), help="Go module holding the functions, for --smoke (default: %(default)s)")
    d.add_argument("--pkgdir", default="./functions", help="package prefix of the functions in --moddir (default: %(default)s)")
    d.add_argument("--timeout", type=float, default=300, help="seconds to wait for stack operations (default: %(default)s)")

    t = sub.add_parser("translate", parents=[common], help="write the expanded CloudFormation template")
    t.add_argument("-o", "--output", default="-", help="file, or - for stdout (default)")

    z = sub.add_parser("zip", help="zip a bootstrap binary for Lambda")
    z.add_argument("src")
    z.add_argument("dst")

    if not argv or argv[0] not in ("deploy", "translate", "zip", "-h", "--help"):
        argv = ["deploy", *argv]
    args = ap.parse_args(argv)
    try:
        return {"deploy": cmd_deploy, "translate": cmd_translate, "zip": cmd_zip}[args.cmd](args)
    except Failure as e:
        print(f"deploy-local: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
