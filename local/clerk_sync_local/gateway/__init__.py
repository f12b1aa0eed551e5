"""API Gateway HTTP API v2 on 127.0.0.1: the routes of the CDK stack in front of the real handlers.

http_api     Gateway: the ASGI app and server, the Lambda authorizer with its cache, limits, CORS
route_table  matching a request to a route of infra.endpoints
events       payload-v2 events and responses, as API Gateway builds and reads them
invoke       the functions, imported by their handler path and run under the integration timeout
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clerk_sync.lazy import lazy_exports

if TYPE_CHECKING:
    from clerk_sync_local.gateway.http_api import Gateway

__all__ = ["Gateway"]

__getattr__ = lazy_exports(__name__, globals(), {"Gateway": "clerk_sync_local.gateway.http_api"})
