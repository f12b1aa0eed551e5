"""Errors the store raises: the only ones a read or write of the table can raise (no botocore error leaves it).

    StoreError                  anything the table failed to do; a retry of the whole request or event may fix it
     ├── StoreUnavailableError  DynamoDB refused, throttled or could not be reached (after the SDK's own retries)
     └── StoreConflictError     a concurrent writer cancelled a transaction, or an item to create already exists

Expected outcomes of a conditional write (stale, duplicate, tombstoned, ...) are values (`clerk_sync.outcomes`),
never these. The API answers a StoreError with 503 and Retry-After; the worker lets SQS redeliver the record.
"""

from __future__ import annotations


class StoreError(Exception):
    """The table could not do what was asked; nothing about the request itself was wrong."""


class StoreUnavailableError(StoreError):
    """DynamoDB refused, throttled, timed out or could not be reached."""


class StoreConflictError(StoreError):
    """A concurrent writer won a race the store cannot settle itself (a cancelled transaction, a taken id)."""
