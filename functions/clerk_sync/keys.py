"""The single-table key schema: the one place that knows how items are keyed.

The store, the tests, the local stack and the CDK stack all read these names, so they cannot drift.

| item         | PK              | SK                | GSI1PK (live only) | GSI1SK        |
|--------------|-----------------|-------------------|--------------------|---------------|
| user         | USER#<user_id>  | PROFILE           |                    |               |
| organization | ORG#<org_id>    | PROFILE           |                    |               |
| membership   | ORG#<org_id>    | MEMBER#<user_id>  | USER#<user_id>     | ORG#<org_id>  |
| job          | JOB#<job_id>    | STATE             |                    |               |
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
PROFILE_SK: Final = "PROFILE"
JOB_SK: Final = "STATE"

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
