"""`clerk-sync bench coldstart`: each handler's cold start against the floor of `import boto3` and its clients.

A cold start here is a fresh interpreter importing a handler module and answering one realistic first event:

- webhook: a Svix-signed `user.created` delivery (`POST /api/webhooks/clerk`);
- worker: an SQS batch holding one message the webhook runs enqueued;
- authorizer: a request with a valid session token of a user already on record and fresh;
- sync_api: `GET /api/sync/status` with the context the authorizer allowed it with.

The environment is the deployed one (docs/deploy.md): the secrets come from a Secrets Manager secret
(`CLERK_SECRETS_ARN`), session-token keys from a JWKS, `CLERK_INSTANCE_ID` is set, Powertools logs at INFO and
emits metrics; every AWS call goes to a moto server and every Clerk call to the emulator, both started here.
Each child times itself with `perf_counter`, from just before the import to the handler's answer; the floor
child of the same handler times `import boto3` plus creating the clients that handler's first event uses, and a
botocore child the same clients from one botocore session, as the handlers make them: the least any handler built
on botocore pays before its own code runs.
Bytecode is controlled as in `bench/startup.py`: every child shares a private PYTHONPYCACHEPREFIX, primed by
one unmeasured run of each kind. Figures are medians over `runs` fresh interpreters, measured here each time.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from clerk_sync import wiring
from clerk_sync.vocabulary import SERVICE_NAME
from clerk_sync_local.bench.sync import Bench, bench_stack
from clerk_sync_local.emulator.webhooks import sign_headers
from clerk_sync_local.gateway.events import GatewayRequest, RequestStamp, authorizer_event, http_event
from clerk_sync_local.gateway.route_table import RouteTable
from clerk_sync_local.lambda_events import LocalLambdaContext, sqs_event
from infra.endpoints import ROUTES, WEBHOOK_PATH

GOAL: Final = "< 1.0"
# Modules the report says were loaded by the handler's cold start (what the floor pays for, and what it may not).
WATCHED_MODULES: Final = ("boto3", "s3transfer", "pydantic_settings", "pydantic", "httpx", "jwt")

# The AWS clients each handler's first event uses (the floor creates exactly these with boto3).
FLOOR_CLIENTS: Final[dict[str, tuple[str, ...]]] = {
    "webhook": ("secretsmanager", "sqs"),  # its secret, then the event queue
    "worker": ("dynamodb", "sqs"),  # the table, then the membership sync a user.created queues
    "authorizer": ("dynamodb",),  # the caller's record
    "sync_api": ("dynamodb",),  # the caller's records
}

_HANDLER_CHILD = """
import sys, time
started = time.perf_counter()
import importlib
handler = importlib.import_module(sys.argv[1]).handler
import json
with open(sys.argv[2]) as source:
    event = json.load(source)
class Context:
    function_name = "clerk-sync-coldstart"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:clerk-sync-coldstart"
    aws_request_id = "req-coldstart"
    def get_remaining_time_in_millis(self):
        return 10_000
answer = handler(event, Context())
elapsed_ms = (time.perf_counter() - started) * 1000
watched = {watched!r}
with open(sys.argv[3], "w") as sink:
    json.dump({{"ms": elapsed_ms, "answer": answer, "loaded": [m for m in watched if m in sys.modules]}}, sink)
"""

_FLOOR_CHILD = """
import sys, time
started = time.perf_counter()
import boto3
for service in sys.argv[1].split(","):
    boto3.client(service)
elapsed_ms = (time.perf_counter() - started) * 1000
with open(sys.argv[2], "w") as sink:
    sink.write(repr(elapsed_ms))
"""

# What any handler built on botocore pays before its first event: the SDK's import and the same clients, made as
# `clerk_sync.aws` makes them (one session). The part of the floor left for everything else is what it leaves.
_BOTOCORE_CHILD = """
import sys, time
started = time.perf_counter()
import botocore.session
session = botocore.session.get_session()
for service in sys.argv[1].split(","):
    session.create_client(service)
elapsed_ms = (time.perf_counter() - started) * 1000
with open(sys.argv[2], "w") as sink:
    sink.write(repr(elapsed_ms))
"""


@dataclass(frozen=True)
class _Case:
    name: str
    module: str
    event: Callable[[], dict[str, Any]]  # a new first event for each run
    answered: Callable[[Any], bool]  # the answer is the one a working handler gives


def _functions_dir() -> Path:
    return Path(wiring.__file__).resolve().parents[1]


def _child_environment(bench: Bench, secret_arn: str, pycache: Path, functions: Path) -> dict[str, str]:
    """The deployed configuration pointed at moto and the emulator; secrets only in Secrets Manager."""
    removed = {
        "CLERK_SECRET_KEY",
        "CLERK_WEBHOOK_SIGNING_SECRET",
        "CLERK_WEBHOOK_SECRET",
        "CLERK_JWT_KEY",
        "CLERK_JWKS_URL",
        "POWERTOOLS_METRICS_DISABLED",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONPATH",
    }
    env = {key: value for key, value in os.environ.items() if key not in removed}
    env.update(
        {
            "PYTHONPATH": str(functions),
            "PYTHONPYCACHEPREFIX": str(pycache),
            "CLERK_SECRETS_ARN": secret_arn,
            "CLERK_INSTANCE_ID": bench.clerk.instance_id,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
            "USER_EVENT_MEMBERSHIP_SYNC": "missing",
        }
    )
    return env


def _run_child(code: str, arguments: list[str], env: dict[str, str], output: Path) -> str:
    command = [sys.executable, "-c", code, *arguments]  # our own interpreter and fixed child code
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603
    if result.returncode != 0 or not output.exists():
        raise RuntimeError(f"cold-start child {arguments[0]} failed ({result.returncode}): {result.stderr[-800:]}")
    text = output.read_text()
    output.unlink()
    return text


def _cases(bench: Bench) -> Iterator[_Case]:
    """The four handlers with their first events; the worker's messages are the ones the webhook runs enqueued."""
    clerk = bench.clerk
    routes = RouteTable(ROUTES)
    queue_url = os.environ["EVENTS_QUEUE_URL"]

    def webhook_event() -> dict[str, Any]:
        clerk.create_user(first_name="Cold", last_name="Start")
        created = clerk.events[-1]
        body = json.dumps(created["payload"])
        headers = sign_headers(created["msg_id"], body, [clerk.webhook_secret], datetime.now(tz=UTC))
        request = GatewayRequest("POST", WEBHOOK_PATH, headers=tuple(headers.items()), body=body.encode())
        match = routes.match("POST", WEBHOOK_PATH)
        assert match is not None
        return http_event(request, match, RequestStamp())

    yield _Case("webhook", "clerk_sync.handlers.webhook", webhook_event, lambda answer: answer["statusCode"] == 202)

    sqs = bench.moto.client("sqs")
    enqueued: list[dict[str, Any]] = []

    def worker_event() -> dict[str, Any]:
        while not enqueued:  # what the webhook runs enqueued; the syncs the worker runs queue are left alone
            received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"])
            if not received.get("Messages"):
                raise RuntimeError("no webhook event on the queue for the worker's first batch")
            enqueued.extend(m for m in received["Messages"] if json.loads(m["Body"]).get("kind") == "event")
        return sqs_event([enqueued.pop(0)])

    yield _Case("worker", "clerk_sync.handlers.worker", worker_event, lambda a: a == {"batchItemFailures": []})

    # A user with an organization, synced once, so every login finds it on record and fresh.
    user_id: str = clerk.create_user(first_name="Fresh", last_name="Login")["id"]
    clerk.add_membership(clerk.create_organization("Cold Start Inc")["id"], user_id)
    wiring.sync_service().full_user_sync(user_id)
    status = routes.match("GET", "/api/sync/status")
    assert status is not None

    def status_request() -> GatewayRequest:
        token = clerk.mint_token(user_id)  # tokens live ~60 s: a new one per run
        headers = (("authorization", f"Bearer {token}"), ("user-agent", "clerk-sync-coldstart"))
        return GatewayRequest("GET", "/api/sync/status", headers=headers)

    def login_event() -> dict[str, Any]:
        request = status_request()
        return authorizer_event(request, status, RequestStamp(), [request.header("authorization") or ""])

    def logged_in(answer: Any) -> bool:  # an unverified token is allowed through too, unauthenticated
        return answer["isAuthorized"] is True and answer["context"].get("loginSource") == "store"

    yield _Case("authorizer", "clerk_sync.handlers.authorizer", login_event, logged_in)

    from clerk_sync.handlers import authorizer

    context: Any = LocalLambdaContext()  # what the handlers read of Lambda's context
    allowed = authorizer.handler(login_event(), context)
    if not logged_in(allowed):
        raise RuntimeError(f"the bench user was not authorized: {allowed['context']}")

    def status_event() -> dict[str, Any]:
        return http_event(status_request(), status, RequestStamp(), allowed["context"])

    yield _Case("sync_api", "clerk_sync.handlers.sync_api", status_event, lambda a: a["statusCode"] == 200)


def _secret(bench: Bench) -> str:
    """The deployed secret: the Clerk key and the webhook signing secret as one JSON object."""
    secrets = {"CLERK_SECRET_KEY": bench.clerk.secret_key, "CLERK_WEBHOOK_SIGNING_SECRET": bench.clerk.webhook_secret}
    created = bench.moto.client("secretsmanager").create_secret(
        Name="clerk-sync-coldstart", SecretString=json.dumps(secrets)
    )
    return str(created["ARN"])


def _measure_case(case: _Case, runs: int, env: dict[str, str], scratch: Path) -> dict[str, Any]:
    """Alternates a handler run, a floor run and a botocore run, so a busy machine weighs on all alike."""
    code = _HANDLER_CHILD.format(watched=WATCHED_MODULES)
    clients = FLOOR_CLIENTS[case.name]
    event_file, output = scratch / f"{case.name}-event.json", scratch / f"{case.name}-out.json"
    samples: list[float] = []
    floors: list[float] = []
    sdk: list[float] = []
    loaded: list[str] = []
    for run in range(runs + 1):  # the first run of each primes the bytecode cache and is not counted
        event_file.write_text(json.dumps(case.event()))
        result = json.loads(_run_child(code, [case.module, str(event_file), str(output)], env, output))
        if not case.answered(result["answer"]):
            raise RuntimeError(f"{case.name} answered its first event unexpectedly: {str(result['answer'])[:500]}")
        floor = float(_run_child(_FLOOR_CHILD, [",".join(clients), str(output)], env, output))
        botocore = float(_run_child(_BOTOCORE_CHILD, [",".join(clients), str(output)], env, output))
        if run:
            samples.append(float(result["ms"]))
            floors.append(floor)
            sdk.append(botocore)
        loaded = result["loaded"]
    median, floor_median, sdk_median = statistics.median(samples), statistics.median(floors), statistics.median(sdk)
    return {
        "module": case.module,
        "median_ms": round(median, 1),
        "min_ms": round(min(samples), 1),
        "max_ms": round(max(samples), 1),
        "floor_ms": round(floor_median, 1),
        "floor": f"import boto3 + {', '.join(clients)} client{'s' if len(clients) > 1 else ''}",
        "ratio": round(median / floor_median, 2),
        "botocore_ms": round(sdk_median, 1),
        "botocore_share": round(sdk_median / floor_median, 2),
        "goal": GOAL,
        "met": median < floor_median,
        "loaded": loaded,
    }


def measure_cold_starts(runs: int = 10, functions_dir: Path | None = None) -> dict[str, Any]:
    """Per handler: median cold start (import + first answer) and floor in ms, their ratio, and the goal.

    `functions_dir`: the Lambda code to measure (default: this checkout's functions/), e.g. an older revision's.
    """
    if runs < 1:
        raise ValueError("runs must be at least 1")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="clerk-sync-coldstart-") as directory, bench_stack() as bench:
        scratch = Path(directory)
        functions = functions_dir or _functions_dir()
        env = _child_environment(bench, _secret(bench), scratch / "pycache", functions)
        for case in _cases(bench):
            results[case.name] = _measure_case(case, runs, env, scratch)
    return {"runs": runs, "python": sys.version.split()[0], "functions": str(functions), "handlers": results}


def sections(options: Any) -> list[Any]:
    """Item 1 (and item 6's cold start) for `clerk-sync bench all`: each handler's cold start against its floor;
    `--set coldstart_runs=N` sets the runs (10 by default)."""
    from clerk_sync_local.bench.figures import Figure, Goal, Section

    runs = int(options.params.get("coldstart_runs", 10))
    measured = measure_cold_starts(runs)
    section = Section("coldstart", f"Cold start: import + first event, median of {runs}, against the boto3 floor")
    for name, row in measured["handlers"].items():
        section.figures.append(
            Figure(
                f"{name} cold start over its floor",
                row["ratio"],
                "x",
                Goal.bound(1.0),
                note=f"{row['median_ms']} ms against {row['floor_ms']} ms ({row['floor']})",
            )
        )
        section.figures.append(
            Figure(
                f"{name}: botocore and the same clients alone, over the floor",
                row["botocore_share"],
                "x",
                note=f"{row['botocore_ms']} ms: what is left of the floor for the handler's own import and first event",
            )
        )
    section.series["coldstart"] = measured
    return [section]
