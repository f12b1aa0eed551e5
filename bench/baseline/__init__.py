"""The baseline: a deliberately naive Clerk → DynamoDB sync, the way the common recipe does it (a yardstick).

What makes it naive, on purpose (each is what clerk-sync does differently):

- every user webhook fetches the user and each of their organizations from Clerk
  (`GET /users/{id}`, `GET /users/{id}/organization_memberships`, then `GET /organizations/{id}` per organization);
- every item is written read-modify-write (`GetItem`, merge, `PutItem`) with no condition, one write per item in
  a loop: correct only while one worker runs at a time, which is why it runs single-threaded;
- a full user sync makes one Clerk call per organization;
- Clerk calls are not retried and never back off: a failure fails the message and SQS redelivers it.

It runs on the local stack's moto and Clerk emulator, with its own table (same schema), queue, webhook route and
worker (`deployment.BaselineDeployment`), so a benchmark feeds both the same burst.
"""
