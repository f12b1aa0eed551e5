"""The bench's output: a rich table in the terminal, `latest.json` (every figure with its goal and ratio), and a
Markdown report with PNG plots beside it (matplotlib, Agg backend)."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from rich.console import Console
from rich.table import Table

from clerk_sync_local.bench import prices
from clerk_sync_local.bench.figures import Figure, Section

JSON_NAME: Final = "latest.json"
REPORT_NAME: Final = "report.md"
COLORS: Final = {"clerk-sync": "#1f77b4", "baseline": "#d62728"}


def _number(value: float | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.3g}" if abs(value) < 1 else f"{value:,.2f}"


def _met(figure: Figure) -> str:
    return {True: "yes", False: "NO", None: ""}[figure.met]


def _ratio(figure: Figure) -> str:
    ratio = figure.ratio
    return "" if ratio is None else ("∞" if ratio == float("inf") else f"{ratio:.2f}")


def rows(sections: Sequence[Section]) -> list[list[str]]:
    """One row per figure: section, figure, value, baseline, ratio, goal, met, note."""
    found = []
    for section in sections:
        if section.error:
            found.append([section.name, "(did not run)", "", "", "", "", "", section.error])
        for figure in section.figures:
            goal = figure.goal.text(figure.unit) if figure.goal else ""
            found.append(
                [
                    section.name,
                    figure.name,
                    f"{_number(figure.value)} {figure.unit}",
                    _number(figure.baseline),
                    _ratio(figure),
                    goal,
                    _met(figure),
                    figure.note,
                ]
            )
    return found


_HEADERS: Final = ["section", "figure", "value", "baseline", "ratio", "goal", "met", "note"]


def print_table(console: Console, sections: Sequence[Section]) -> None:
    table = Table(title="clerk-sync bench", show_lines=False)
    for header in _HEADERS:
        table.add_column(header, overflow="fold", max_width=60 if header == "note" else None)
    for row in rows(sections):
        style = "red" if row[6] == "NO" else None
        table.add_row(*row, style=style)
    console.print(table)


def results_json(sections: Sequence[Section], options: dict[str, Any], started: float) -> dict[str, Any]:
    return {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(time.time() - started, 1),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": _cpus()},
        "options": options,
        "prices": {
            "region": prices.REGION,
            "read_on": prices.READ_ON,
            "items": {name: vars(price) for name, price in prices.ALL.items()},
        },
        "sections": [section.as_json() for section in sections],
    }


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


# --- plots ---


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _latency(series: dict[str, list[float]], path: Path) -> None:
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(7, 4))
    for side, values in series.items():
        if values:
            ordered = sorted(v / 1000 for v in values)
            shares = [(n + 1) / len(ordered) for n in range(len(ordered))]
            axis.step(ordered, shares, where="post", label=f"{side} (n={len(ordered)})", color=COLORS.get(side))
    axis.set_xlabel("change → table (s)")
    axis.set_ylabel("share of events")
    axis.set_title("Webhook → table latency (cumulative)")
    axis.grid(alpha=0.3)
    axis.legend()
    _save(plt, figure, path)


def _save(plt: Any, figure: Any, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _throughput(series: dict[str, list[list[float]]], path: Path) -> None:
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(7, 4))
    for side, points in series.items():
        if points:
            axis.plot([p[0] for p in points], [p[1] for p in points], label=side, color=COLORS.get(side))
    axis.set_xlabel("seconds after the first change")
    axis.set_ylabel("events applied")
    axis.set_title("Webhook burst: events applied over time")
    axis.grid(alpha=0.3)
    axis.legend()
    _save(plt, figure, path)


def _bulk(series: dict[str, list[float]], path: Path) -> None:
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(7, 4))
    sizes = series.get("memberships", [])
    for side in ("clerk-sync", "baseline"):
        values = series.get(side, [])
        if values:
            axis.plot(sizes, values, marker="o", label=side, color=COLORS.get(side))
            for size, value in zip(sizes, values, strict=False):
                axis.annotate(f"{value:,.0f}", (size, value), textcoords="offset points", xytext=(4, 4))
    axis.set_xscale("symlog", linthresh=10)
    axis.set_yscale("symlog", linthresh=10)
    axis.set_xlabel("memberships of the user")
    axis.set_ylabel("Clerk calls")
    axis.set_title("Full user sync: Clerk calls by membership count")
    axis.grid(alpha=0.3)
    axis.legend()
    _save(plt, figure, path)


def _backfill(series: dict[str, Any], path: Path) -> None:
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(7, 4))
    points = series.get("points", [])
    if points:
        axis.plot([p[0] for p in points], [p[1] for p in points], color=COLORS["clerk-sync"], label="entities read")
    if series.get("entities"):
        axis.axhline(series["entities"], linestyle="--", color="grey", label="entities in Clerk")
    axis.set_xlabel("seconds since the import started")
    axis.set_ylabel("entities read")
    axis.set_title("Backfill progress")
    axis.grid(alpha=0.3)
    axis.legend()
    _save(plt, figure, path)


def _cost(series: dict[str, dict[str, float]], path: Path) -> None:
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(7, 4))
    sides = list(series)
    lines = [name for name in next(iter(series.values())) if name != "total"] if series else []
    bottoms = [0.0] * len(sides)
    for line in lines:
        values = [series[side].get(line, 0.0) for side in sides]
        axis.bar(sides, values, bottom=bottoms, label=line.replace("_", " "))
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    for index, total in enumerate(bottoms):
        axis.annotate(f"${total:.2f}", (index, total), ha="center", textcoords="offset points", xytext=(0, 3))
    axis.set_ylabel("USD per million webhook events")
    axis.set_title("Cost per million webhook events (us-east-1 list prices)")
    axis.legend(fontsize="small")
    _save(plt, figure, path)


# series name → (file, title, plotter)
PLOTS: Final[dict[str, tuple[str, str, Callable[[Any, Path], None]]]] = {
    "latency_ms": ("latency.png", "Latency distribution", _latency),
    "applied_over_time": ("throughput.png", "Throughput", _throughput),
    "cost_breakdown": ("cost.png", "Cost per million events", _cost),
    "bulk_sync_calls": ("bulk-sync.png", "Bulk-sync cost", _bulk),
    "backfill_progress": ("backfill.png", "Backfill progress", _backfill),
}


def write_plots(sections: Sequence[Section], directory: Path) -> list[tuple[str, str]]:
    """Every known series as a PNG in `directory`; returns (title, file name) of those written."""
    written = []
    for section in sections:
        for name, data in section.series.items():
            if name in PLOTS and data:
                file_name, title, plot = PLOTS[name]
                plot(data, directory / file_name)
                written.append((title, file_name))
    return written


def _markdown_table(sections: Sequence[Section]) -> list[str]:
    lines = ["| " + " | ".join(_HEADERS) + " |", "|" + "---|" * len(_HEADERS)]
    for row in rows(sections):
        lines.append("| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in row) + " |")
    return lines


def markdown(results: dict[str, Any], sections: Sequence[Section], plots: Sequence[tuple[str, str]]) -> str:
    options = results["options"]
    lines = [
        "# clerk-sync benchmark report",
        "",
        f"Generated {results['generated_at']} by `make bench` in {results['seconds']:.0f} s on "
        f"{results['machine']['cpus']} CPUs ({results['machine']['platform']}, Python {results['machine']['python']}).",
        "Every number below was measured in that run; `latest.json` beside this file holds them with their goals, "
        "ratios and raw series. Timing never fails the run: *met* says whether a goal was reached.",
        "",
        "The baseline (`bench/baseline/`) is a deliberately naive sync of the same data on the same local stack: "
        "read-modify-write without conditions, a Clerk fetch of the user and each of their organizations on every "
        "user webhook, one call per organization in a full sync, no backoff, one write per item, one worker "
        "([decision 0027](../../docs/decisions/0027-benchmarks-and-baseline.md)).",
        "",
        "Options: " + ", ".join(f"`{k}={v}`" for k, v in options.items() if k != "params"),
        "",
        "## Figures",
        "",
        *_markdown_table(sections),
        "",
    ]
    for title, file_name in plots:
        lines += [f"## {title}", "", f"![{title}]({file_name})", ""]
    lines += ["## Notes", ""]
    for section in sections:
        notes = [n for n in section.notes if n and not n.startswith("Traceback")]
        if notes or section.error:
            lines.append(
                f"- **{section.name}** ({section.seconds:.0f} s): " + "; ".join(notes or [section.error or ""])
            )
    price_items = results["prices"]["items"]
    lines += [
        "",
        f"## Prices ({results['prices']['region']}, list prices read on {results['prices']['read_on']})",
        "",
        "| price | USD | per | source |",
        "|---|---|---|---|",
        *(f"| {name} | {item['usd']:.10g} | {item['per']} | {item['source']} |" for name, item in price_items.items()),
        "",
        "Cost model assumptions (`local/clerk_sync_local/bench/cost.py`): WRU per started 1 KB of the item (two in a "
        "transaction, a condition check counted as a transactional write), a write to an item with GSI1 keys writes "
        "the index too, RRU per started 4 KB (half when eventually consistent), SQS per 64 KB chunk with one receive "
        "and one delete per worker batch, Lambda duration at the CDK stack's memory sizes rounded up per millisecond, "
        "billed INIT for the assumed share of cold starts.",
        "",
    ]
    return "\n".join(lines)


def write_report(sections: Sequence[Section], directory: Path, options: dict[str, Any], started: float) -> Path:
    """latest.json, the PNGs and report.md in `directory`; returns the report's path."""
    directory.mkdir(parents=True, exist_ok=True)
    results = results_json(sections, options, started)
    (directory / JSON_NAME).write_text(json.dumps(results, indent=2, sort_keys=False, default=str) + "\n")
    plots = write_plots(sections, directory)
    report = directory / REPORT_NAME
    report.write_text(markdown(results, sections, plots))
    return report
