"""Route matching as API Gateway HTTP API does it, built from the route table the CDK stack deploys.

A route is an exact method plus a path where `{name}` stands for one non-empty segment. When several
routes match, the most specific wins (a literal segment beats a parameter, leftmost first), so
`POST /api/sync/user/organizations` never reaches `POST /api/sync/user/{clerkUserId}`.
A known path with another method matches nothing: HTTP API answers 404 there, never 405.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from infra.endpoints import Route


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    path_parameters: dict[str, str]

    @property
    def route_key(self) -> str:
        """`POST /api/sync/user/{clerkUserId}`: the template, as in the event's routeKey."""
        return f"{self.route.method} {self.route.path}"


@dataclass(frozen=True)
class _Compiled:
    route: Route
    # A literal segment, or None for a `{name}` parameter (its name is in `names` at the same index).
    literals: tuple[str | None, ...]
    names: tuple[str | None, ...]


def _compile(route: Route) -> _Compiled:
    literals: list[str | None] = []
    names: list[str | None] = []
    for segment in route.path.split("/")[1:]:
        if segment.startswith("{") and segment.endswith("}"):
            literals.append(None)
            names.append(segment[1:-1])
        else:
            literals.append(segment)
            names.append(None)
    return _Compiled(route, tuple(literals), tuple(names))


class RouteTable:
    """Finds the route for a method and a raw (percent-encoded) path."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._routes = tuple(_compile(route) for route in routes)

    @property
    def routes(self) -> tuple[Route, ...]:
        return tuple(compiled.route for compiled in self._routes)

    def match(self, method: str, raw_path: str) -> RouteMatch | None:
        if not raw_path.startswith("/"):
            return None
        # Split before decoding: an encoded slash (%2F) stays inside its segment, as on AWS.
        segments = [unquote(part) for part in raw_path.split("/")[1:]]
        best: tuple[tuple[bool, ...], RouteMatch] | None = None
        for compiled in self._routes:
            if compiled.route.method != method.upper() or len(compiled.literals) != len(segments):
                continue
            params: dict[str, str] = {}
            for literal, name, segment in zip(compiled.literals, compiled.names, segments, strict=True):
                if literal is not None and literal != segment:
                    break
                if name is not None:
                    if not segment:
                        break
                    params[name] = segment
            else:
                specificity = tuple(literal is not None for literal in compiled.literals)
                if best is None or specificity > best[0]:
                    best = (specificity, RouteMatch(compiled.route, params))
        return best[1] if best else None
