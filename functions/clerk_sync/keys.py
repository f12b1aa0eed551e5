"""The single-table key schema: the one place that knows how items are keyed.

The store, the tests, the local stack and the CDK stack all read these names, so they cannot drift.

| item         | PK              | SK                | GSI1PK (live only) | GSI1SK        |
|--------------|-----------------|-------------------|--------------------|---------------|
| user         | USER#<user_id>  | PROFILE           |                    |               |
| organization | ORG#<org_id>    | PROFILE           |                    |               |
| membership   | ORG#<org_id>    | MEMBER#<user_id>  | USER#<user_id>     | ORG#<org_id>  |
| job          | JOB#<job_id>    | STATE             | USER#<requester>   | JOB#<job_id>  |
| job's ids    | JOB#<job_id>    | SEEN#<offset>     |                    |               |
| sync state   | USER#<user_id>  | MEMBERSHIPS       | (before 0026: read, never written) |  |
| sync limit   | USER#<user_id>  | SYNC_LIMIT        |                    |               |
| run          | RUN#<run_id>    | STATE             |                    |               |
| run's ids    | RUN#<run_id>    | SEEN#<page>       |                    |               |
| current run  | RUNS#<kind>     | CURRENT           |                    |               |
| Clerk budget | BUDGET#clerk    | STATE             |                    |               |
| failure note | FAILURE#<msg>   | LAST              |                    |               |
| freshness    | FRESHNESS#webhooks | LAST           |                    |               |
| history entry | HISTORY#<entity>#<id> | AT#<ms>#<ref> |                  |               |
| history counts | HISTORY#<entity>#<id> | COUNTS       |                    |               |
| outcomes     | OUTCOMES#<hour> | COUNTS            |                    |               |

GSI1 holds two kinds of rows per user, told apart by the GSI1SK prefix: live memberships (`ORG#`) and
the jobs the user started (`JOB#`). When the user's memberships were last asked for and synced from Clerk is on
the user's profile (docs/decisions/0026); the older sync-state item that held it is only read, once per user. A
job's `SEEN#` items hold what its steps listed and did not write (unchanged). The
sync-limit item counts one caller's manual syncs in their current window and expires with the table's TTL. The
budget item is the token bucket every writer's Clerk requests draw from (docs/decisions/0020). A run (backfill
or reconcile) keeps its checkpoint in its `STATE` item and, for reconcile, the ids each listed page held; the
`CURRENT` item of its kind names the run a new start resumes.
The worker's own notes: a failure note per SQS message id that failed (its last error, what `clerk-sync dlq` shows
beside a dead letter; expires with the DLQ's retention), and one freshness item saying when a webhook was last
processed (what `GET /api/sync/status` answers as `last_webhook_at`).
Each applied write leaves a history entry for its entity (ids, source, outcome, version: no PII) and stale or
duplicate deliveries are counted on the entity's `COUNTS` item; both expire with the TTL (HISTORY_TTL_DAYS). The
outcomes of one UTC hour are summed on its `OUTCOMES#` item (store/history.py).
Each new job also leaves a pointer under `JOBS#recent` (SK `AT#<created ms>#<job id>`, expiring with the job), so
the admin API lists recent jobs with one Query instead of a Scan. A `COUNTS#records` item caches the admin
overview's count of records (store/counts.py).
"""

from __future__ import annotations

from typing import Final

PK: Final = "PK"
SK: Final = "SK"
GSI1_NAME: Final = "GSI1"
GSI1_PK: Final = "GSI1PK"
GSI1_SK: Final = "GSI1SK"
TTL_ATTRIBUTE: Final = "expires_at"

USER_PREFIX: Final = "USER#"
ORG_PREFIX: Final = "ORG#"
MEMBER_PREFIX: Final = "MEMBER#"
JOB_PREFIX: Final = "JOB#"
RUN_PREFIX: Final = "RUN#"
RUNS_PREFIX: Final = "RUNS#"
SEEN_PREFIX: Final = "SEEN#"
CURRENT_SK: Final = "CURRENT"
PROFILE_SK: Final = "PROFILE"
JOB_SK: Final = "STATE"
MEMBERSHIPS_SK: Final = "MEMBERSHIPS"
SYNC_LIMIT_SK: Final = "SYNC_LIMIT"
BUDGET_PREFIX: Final = "BUDGET#"
BUDGET_SK: Final = "STATE"
CLERK_BUDGET: Final = "clerk"
FAILURE_PREFIX: Final = "FAILURE#"
FRESHNESS_PREFIX: Final = "FRESHNESS#"
LAST_SK: Final = "LAST"

Key = dict[str, str]


def user_key(user_id: str) -> Key:
    return {PK: USER_PREFIX + user_id, SK: PROFILE_SK}


def org_key(org_id: str) -> Key:
    return {PK: ORG_PREFIX + org_id, SK: PROFILE_SK}


def membership_key(org_id: str, user_id: str) -> Key:
    return {PK: ORG_PREFIX + org_id, SK: MEMBER_PREFIX + user_id}


def membership_index_key(org_id: str, user_id: str) -> Key:
    """GSI1 keys that list a user's live memberships; tombstoned memberships drop them (sparse index)."""
    return {GSI1_PK: USER_PREFIX + user_id, GSI1_SK: ORG_PREFIX + org_id}


def job_key(job_id: str) -> Key:
    return {PK: JOB_PREFIX + job_id, SK: JOB_SK}


def job_listed_key(job_id: str, offset: int) -> Key:
    """What one step of a job listed and did not write (unchanged records), by the offset it read from."""
    return {PK: JOB_PREFIX + job_id, SK: f"{SEEN_PREFIX}{offset:06d}"}


RECENT_JOBS_PK: Final = "JOBS#recent"
RECORD_COUNTS_KEY: Final = {PK: "COUNTS#records", SK: "LAST"}


def recent_job_key(created_at_ms: int, job_id: str) -> Key:
    """The pointer that lists a job among the recent ones, newest first by its creation time."""
    return {PK: RECENT_JOBS_PK, SK: f"AT#{created_at_ms:013d}#{job_id}"}


def job_index_key(requested_by: str, job_id: str) -> Key:
    """GSI1 keys that list the jobs a user started, beside their memberships."""
    return {GSI1_PK: USER_PREFIX + requested_by, GSI1_SK: JOB_PREFIX + job_id}


def membership_state_key(user_id: str) -> Key:
    return {PK: USER_PREFIX + user_id, SK: MEMBERSHIPS_SK}


def sync_limit_key(user_id: str) -> Key:
    return {PK: USER_PREFIX + user_id, SK: SYNC_LIMIT_SK}


def budget_key(name: str = CLERK_BUDGET) -> Key:
    return {PK: BUDGET_PREFIX + name, SK: BUDGET_SK}


def run_key(run_id: str) -> Key:
    return {PK: RUN_PREFIX + run_id, SK: JOB_SK}


def run_seen_key(run_id: str, page: int) -> Key:
    return {PK: RUN_PREFIX + run_id, SK: f"{SEEN_PREFIX}{page:06d}"}


def current_run_key(kind: str) -> Key:
    return {PK: RUNS_PREFIX + kind, SK: CURRENT_SK}


def failure_key(message_id: str) -> Key:
    """The last failure of one SQS message, by its message id (SQS keeps the id when it moves a message to the DLQ)."""
    return {PK: FAILURE_PREFIX + message_id, SK: LAST_SK}


def webhook_freshness_key() -> Key:
    return {PK: FRESHNESS_PREFIX + "webhooks", SK: LAST_SK}


HISTORY_PREFIX: Final = "HISTORY#"
HISTORY_AT_PREFIX: Final = "AT#"
COUNTS_SK: Final = "COUNTS"
OUTCOMES_PREFIX: Final = "OUTCOMES#"


def history_partition(entity: str, entity_id: str) -> str:
    """One entity's history (`HISTORY#user#<id>`, `HISTORY#membership#<org>/<user>`): apart from the record itself,
    so no query or cascade of the records ever meets an entry."""
    return f"{HISTORY_PREFIX}{entity}#{entity_id}"


def history_entry_key(entity: str, entity_id: str, at_ms: int, ref: str) -> Key:
    """An entry, sorted by time; `ref` (the event id, or a write's own id) keeps two entries of one ms apart."""
    return {PK: history_partition(entity, entity_id), SK: f"{HISTORY_AT_PREFIX}{at_ms:013d}#{ref}"}


def history_counts_key(entity: str, entity_id: str) -> Key:
    """The entity's stale and duplicate deliveries, counted rather than kept one by one."""
    return {PK: history_partition(entity, entity_id), SK: COUNTS_SK}


def outcomes_key(hour: str) -> Key:
    """The outcomes of every write in one UTC hour (`YYYY-MM-DDTHH`), summed: what the console charts."""
    return {PK: OUTCOMES_PREFIX + hour, SK: COUNTS_SK}
