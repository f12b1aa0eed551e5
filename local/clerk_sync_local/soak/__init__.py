"""Faults on purpose, and the soak: the product's promises checked under Clerk, DynamoDB, SQS and worker faults.

    aws_faults  DynamoDB and SQS faults in the product's own boto3 clients (botocore's event hooks)
    world       the deployment in this process: moto server, emulator, gateway, the worker driven step by step
    ledger      where every webhook event went (accepted, handled with an outcome, dead-lettered, replayed)
    changes     random changes to the emulator: its webhooks and its API agree by construction
    runner      `run_soak`: scenarios of random histories under faults, each ending compared with Clerk

tests/faults uses the world and the injectors; `clerk-sync soak` (make soak) runs the soak. See
docs/decisions/0016-fault-injection-and-soak.md.
"""
