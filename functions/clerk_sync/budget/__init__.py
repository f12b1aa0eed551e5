"""The one Clerk rate budget every writer shares (docs/decisions/0020).

    bucket   the token bucket as plain values: refill, take by priority, the 429 penalty (no I/O, no clock)
    shared   `SharedClerkBudget`: the bucket kept in the table, leased by each process, waited for within a
             call's deadline, and skipped (fail open) when the table cannot be reached

The table item itself is `clerk_sync.store.budget`.
"""
