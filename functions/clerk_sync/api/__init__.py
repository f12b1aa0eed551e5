"""The HTTP side of clerk-sync: the session authorizer's decision and the /api/sync/* routes behind it."""
