"""Measurements on the local stack (`clerk-sync bench ...`, `make bench`): they print numbers, never fail on timing.

sync      Clerk calls per full user sync, a 429 storm, the authorizer's cost, DynamoDB requests per event
startup   `local up` from process start to the ready file
webhooks  webhook-to-table latency and throughput for a burst of emulator changes
"""
