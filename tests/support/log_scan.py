"""Finds secrets and personal data in log text: patterns for their kinds, plus exact values a test knows.

A finding names the kind, the source and the line, and shows the line with the value masked, so a failing
test does not print the secret it found.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# Kind → pattern. Deliberately broad: a false alarm costs a look, a miss costs a leak.
PATTERNS: dict[str, re.Pattern[str]] = {
    "clerk secret key": re.compile(r"sk_(?:test|live)_[A-Za-z0-9]{8,}"),
    "webhook secret": re.compile(r"whsec_[A-Za-z0-9+/]{8,}=*"),
    "session token (JWT)": re.compile(r"eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){0,2}"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "email address": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    "phone number": re.compile(r"(?<![\w+])\+[1-9]\d{7,14}(?!\d)"),
}
SECRET_KINDS = frozenset({"clerk secret key", "webhook secret", "session token (JWT)", "private key"})


@dataclass(frozen=True)
class Finding:
    kind: str
    source: str
    line_number: int
    value: str
    masked_line: str

    def __str__(self) -> str:
        # The part of the line around the (masked) value: long JSON log lines would hide it at the end.
        at = max(0, self.masked_line.find(f"<{self.kind}>") - 150)
        return f"{self.source}:{self.line_number}: {self.kind}: ...{self.masked_line[at : at + 300]}..."


@dataclass(frozen=True)
class Known:
    """A value the test put into the system (a secret, a token, an email, a phone number) and what it is."""

    kind: str
    value: str


def scan(
    text: str,
    source: str,
    known: Iterable[Known] = (),
    *,
    kinds: frozenset[str] | None = None,
    first_line: int = 1,
) -> list[Finding]:
    """Every match in `text` of the patterns (only `kinds`, if given) and of the `known` values of those kinds."""
    wanted = [(kind, pattern) for kind, pattern in PATTERNS.items() if kinds is None or kind in kinds]
    exact = [k for k in known if k.value and (kinds is None or k.kind in kinds)]
    findings: list[Finding] = []
    for number, line in enumerate(text.splitlines(), start=first_line):
        hits = [(kind, match.group(0)) for kind, pattern in wanted for match in pattern.finditer(line)]
        hits += [(k.kind, k.value) for k in exact if k.value in line]
        masked = line
        for kind, value in hits:
            masked = masked.replace(value, f"<{kind}>")
        seen: set[tuple[str, str]] = set()
        for kind, value in hits:
            if (kind, value) not in seen:
                seen.add((kind, value))
                findings.append(Finding(kind, source, number, value, masked))
    return findings


def report(findings: Iterable[Finding]) -> str:
    return "\n".join(str(finding) for finding in findings)
