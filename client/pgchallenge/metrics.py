"""``challenge.status`` for people and for Prometheus: a terminal table, and the text exposition format.

Every metric is a gauge (a reading of the database now, not a counter this process keeps). The format is
Prometheus's text exposition format 0.0.4: one ``# HELP`` and ``# TYPE`` line per metric name, then one
sample per label set; a value the database could not estimate (a large table never analysed) is ``NaN``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from pgchallenge.models import StatusMetric


def prometheus_text(metrics: Iterable[StatusMetric]) -> str:
    lines: list[str] = []
    described: set[str] = set()
    for metric in metrics:
        if metric.metric not in described:
            described.add(metric.metric)
            lines.append(f"# HELP {metric.metric} {_escape_help(metric.help)}")
            lines.append(f"# TYPE {metric.metric} gauge")
        lines.append(f"{metric.metric}{_labels(metric.labels)} {format_value(metric.value)}")
    return "".join(line + "\n" for line in lines)


def status_table(metrics: Sequence[StatusMetric]) -> str:
    """Aligned columns: metric with its labels, value, and "~" where the value is an estimate."""
    rows = [
        (f"{m.metric}{_labels(m.labels)}", format_value(m.value), "" if m.exact else "~ estimate")
        for m in metrics
    ]
    width = max((len(name) for name, _, _ in rows), default=0)
    value_width = max((len(value) for _, value, _ in rows), default=0)
    return "".join(
        f"{name:<{width}}  {value:>{value_width}}  {note}".rstrip() + "\n" for name, value, note in rows
    )


def format_value(value: float | None) -> str:
    if value is None:
        return "NaN"
    if value.is_integer():
        return str(int(value))
    return repr(value)


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{key}="{_escape_label(str(value))}"' for key, value in sorted(labels.items()))
    return "{" + inner + "}"


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")
