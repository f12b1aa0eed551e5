"""The sync layer: one module per use case behind the `SyncService` facade (`clerk_sync.sync.service`).

events         a webhook event applied to the table, ties settled by Clerk
users          a user, their memberships, or both, from Clerk
login          the authorizer's sync on login, its fallbacks and the login pause (login_pause)
organizations  an organization, its members inline, or a member-sync job page by page
memberships    one membership from Clerk
queued         a sync the worker took off the queue, within the invocation's time
lookups        the reads the API answers from (a member's role, a caller's records)
writes         the steps the use cases share (memberships with their organizations, removals, tombstones)
followups      the port through which use cases leave work for the worker
"""
