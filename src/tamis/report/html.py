"""`tamis report OUT`: one self-contained HTML page from `manifest.json` and `stats.json`.

The page reads only what the run aggregated (see `aggregate`), never the records, so it takes
the same time for a thousand documents as for ten million. It has no script, no font and no
link to anything outside itself: it opens from disk, offline, in any browser.

Thresholds come from the run's config. A filter step declares which signal each of its options
bounds with a class attribute `thresholds`: items with `signal`, `option` and `below` (True when
documents *below* the option's value are removed), like `tamis.filters.thresholds.Threshold`.
A step without that attribute whose module holds tuples of such items (the filters' rule
tables) gets the items whose option is one of the step's own options.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Collection
from html import escape
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tamis.report.aggregate import environment_versions
from tamis.report.charts import Line, Row, histogram, horizontal_bars, number
from tamis.step import Step, registry

VERDICTS = ("kept", "removed")
TOP_LANGUAGES = 25
TOP_DOMAINS_SHOWN = 20
# A domain's removed share is shown only with this many documents read (or all, if none has).
MIN_DOMAIN_DOCUMENTS = 5

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1000px; padding: 1em 2em;
       color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
h3 { font-size: 1.05em; margin-bottom: .3em; }
table { border-collapse: collapse; margin: .5em 0; }
td, th { padding: 2px 10px; border-bottom: 1px solid #eee; text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
nav a { margin-right: 1em; }
.doc { white-space: pre-wrap; font: 12px/1.4 ui-monospace, monospace; background: #fafafa;
       border: 1px solid #ddd; padding: .6em; max-height: 22em; overflow: auto; }
del { background: #fde2e0; color: #a33; text-decoration: line-through; }
ins { background: #e2f5e2; text-decoration: none; }
.rule { font: 11px sans-serif; background: #c0392b; color: #fff; border-radius: 3px;
        padding: 0 4px; margin: 0 2px; }
.cause { background: #fde2e0; font-weight: bold; }
.muted { color: #777; }
details { margin: .4em 0; } summary { cursor: pointer; }
pre.config { background: #f4f4f4; padding: .6em; overflow: auto; white-space: pre-wrap; }
code { word-break: break-all; } svg.chart { max-width: 100%; height: auto; }
.url { color: #1a5c8a; font-size: .9em; word-break: break-all; }
"""


def write_report(out: str | Path, destination: str | Path | None = None) -> Path:
    """Write `OUT/report.html` (or `destination`) for a finished run; return its path."""
    root = Path(out)
    manifest_path, stats_path = root / "manifest.json", root / "stats.json"
    if not manifest_path.exists() or not stats_path.exists():
        raise FileNotFoundError(f"{root} holds no finished tamis run (manifest.json and "
                                f"stats.json are written when a run completes)")
    manifest = json.loads(manifest_path.read_text("utf-8"))
    stats = json.loads(stats_path.read_text("utf-8"))
    target = Path(destination) if destination is not None else root / "report.html"
    target.write_text(render_report(manifest, stats, title=str(root)), "utf-8")
    return target


def render_report(manifest: dict[str, Any], stats: dict[str, Any], title: str = "") -> str:
    """The whole page as a string."""
    thresholds = thresholds_from_config(manifest.get("config", {}))
    sections = [
        ("funnel", "Funnel", _funnel(manifest, stats)),
        ("signals", "Signals", _signals(stats, thresholds)),
        ("removed", "Removed documents", _removed_examples(stats, thresholds)),
        ("edits", "Span edits", _edits(stats)),
        ("languages", "Languages", _languages(stats)),
        ("domains", "Domains", _domains(stats)),
        ("errors", "Errors", _errors(manifest, stats)),
        ("dedup", "Duplicates", _clusters(stats)),
        ("run", "Run", _run_facts(manifest, stats)),
    ]
    nav = "".join(f'<a href="#{key}">{heading}</a>' for key, heading, _ in sections)
    body = "".join(f'<section id="{key}"><h2>{heading}</h2>{content}</section>'
                   for key, heading, content in sections)
    counts = manifest["counts"]
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>tamis report {escape(title)}</title><style>{STYLE}</style></head><body>"
            f"<h1>tamis report <span class=muted>{escape(title)}</span></h1>"
            f"<p>{counts['read']:,} documents read, {counts['kept']:,} kept, "
            f"{counts['removed']:,} removed, {counts['errors']:,} errors.</p>"
            f"<nav>{nav}</nav>{body}</body></html>")


# -- thresholds from the config ---------------------------------------------------------------

def thresholds_from_config(config: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Per signal, the limits the run's filter steps applied to it (options left at their
    defaults included), read from each step class's `thresholds` declaration."""
    known = registry()
    found: dict[str, list[dict[str, Any]]] = {}
    for entry in config.get("pipeline", []):
        cls = known.get(entry.get("name", ""))
        declared = declared_thresholds(cls) if cls is not None else ()
        if not declared:
            continue
        assert cls is not None
        try:
            options = cls.Options(**entry.get("options", {}))
        except ValidationError:  # a run made by another tamis version: draw no line
            continue
        for threshold in declared:
            limit = getattr(options, threshold.option, None)
            if isinstance(limit, bool) or not isinstance(limit, int | float):
                continue
            found.setdefault(threshold.signal, []).append({
                "value": float(limit), "step": cls.name, "option": threshold.option,
                "below": bool(threshold.below), "rule": getattr(threshold, "rule", "")})
    return found


def declared_thresholds(cls: type[Step]) -> tuple[Any, ...]:
    """The step's `thresholds`, or else its module's rule tables that bound its options."""
    declared = getattr(cls, "thresholds", None)
    if declared is not None:
        return tuple(declared)
    options = set(cls.Options.model_fields)
    found: list[Any] = []
    for value in vars(sys.modules[cls.__module__]).values():
        if isinstance(value, tuple):
            found.extend(item for item in value if _is_threshold(item)
                         and item.option in options and item not in found)
    return tuple(found)


def _is_threshold(item: Any) -> bool:
    return all(hasattr(item, name) for name in ("signal", "option", "below"))


def _breaks(value: Any, limit: dict[str, Any]) -> bool:
    if not isinstance(value, int | float):
        return False
    return value < limit["value"] if limit["below"] else value > limit["value"]


# -- sections ---------------------------------------------------------------------------------

def funnel_rows(manifest: dict[str, Any], stats: dict[str, Any]) -> list[dict[str, Any]]:
    """The funnel in pipeline order: read, errors, each step's removals by reason, kept.

    Documents leave at the first step that removes them, so the documents left after each row
    are what the next step saw. Bytes are UTF-8 bytes of input text (after extraction), so
    that they add up: read = removed + cut by edits + kept (error records have no text).
    """
    counts = manifest["counts"]
    order = [entry["name"] for entry in manifest.get("config", {}).get("pipeline", [])]
    removed_by: dict[str, dict[str, int]] = stats.get("removed_by", {})
    removed_bytes: dict[str, int] = stats.get("removed_bytes", {})
    steps = sorted(removed_by, key=lambda step: (order.index(step) if step in order
                                                 else len(order), step))
    text_in = stats.get("kept_bytes_in", 0) + sum(removed_bytes.values())
    tokens = stats.get("tokens") or {}
    counted = bool(tokens.get("documents"))
    removed_tokens: dict[str, dict[str, int]] = tokens.get("removed_by", {})
    rows = [{"stage": "read", "label": "read", "docs": counts["read"], "bytes": text_in,
             "tokens": tokens.get("read") if counted else None}]
    if counts["errors"]:
        rows.append({"stage": "errors", "label": "errors (unreadable, extraction failed)",
                     "docs": counts["errors"], "bytes": None})
    for step in steps:
        for rule, docs in sorted(removed_by[step].items(), key=lambda item: -item[1]):
            rows.append({"stage": f"{step}/{rule}", "label": f"{step}: {rule}", "docs": docs,
                         "bytes": removed_bytes.get(f"{step}/{rule}"),
                         "tokens": (removed_tokens.get(step, {}).get(rule, 0) if counted
                                    else None)})
    kept_in = stats.get("kept_bytes_in", 0)
    if kept_in:
        rows.append({"stage": "edits", "label": "cut by span edits from kept documents",
                     "docs": None, "bytes": kept_in - stats.get("bytes_kept", 0)})
    rows.append({"stage": "kept", "label": "kept", "docs": counts["kept"],
                 "bytes": stats.get("bytes_kept", 0),
                 "tokens": tokens.get("kept") if counted else None})
    return rows


def _funnel(manifest: dict[str, Any], stats: dict[str, Any]) -> str:
    rows = funnel_rows(manifest, stats)
    read = manifest["counts"]["read"] or 1
    read_bytes = rows[0]["bytes"] or 1
    counted = any(row.get("tokens") is not None for row in rows)
    token_head = "<th class=n>tokens</th>" if counted else ""
    table = ['<table id="funnel"><tr><th>stage</th><th class=n>documents</th><th class=n>%</th>'
             f'<th class=n>bytes</th><th class=n>%</th>{token_head}'
             '<th class=n>documents left</th></tr>']
    left = manifest["counts"]["read"]
    chart: list[Row] = []
    for row in rows:
        if row["stage"] not in ("read", "kept", "edits"):
            left -= row["docs"]
        docs, size = row["docs"], row["bytes"]
        table.append(
            f'<tr data-stage="{escape(row["stage"])}" data-docs="{"" if docs is None else docs}">'
            f'<td>{escape(row["label"])}</td>'
            f'<td class=n>{"" if docs is None else f"{docs:,}"}</td>'
            f'<td class=n>{"" if docs is None else f"{100 * docs / read:.1f}"}</td>'
            f'<td class=n>{"" if size is None else f"{size:,}"}</td>'
            f'<td class=n>{"" if size is None else f"{100 * size / read_bytes:.1f}"}</td>'
            + (f'<td class=n>{_count(row.get("tokens"))}</td>' if counted else "")
            + f'<td class=n>{left:,}</td></tr>')
        if docs is not None:
            chart.append(Row(row["label"], [docs]))
    table.append("</table>")
    tokens = stats.get("tokens") or {}
    token_note = (f" Tokens are the `token_count` of the {tokens.get('documents', 0):,} "
                  f"documents the tokens step counted (those removed before it have none)."
                  if counted else "")
    return (horizontal_bars(chart, ["documents"]) + "".join(table) +
            f"<p class=muted>A document is counted under the first step that removed it."
            f"{token_note} "
            f"Bytes are UTF-8 bytes of the documents' input text (after HTML extraction); the "
            f"run read {stats.get('bytes_in', 0):,} bytes of raw records.</p>")


def _count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def _domains(stats: dict[str, Any]) -> str:
    """The domains with the most text, and those whose documents were most often removed."""
    domains: dict[str, dict[str, int]] = stats.get("domains", {})
    if not domains:
        return "<p class=muted>No document was counted by domain.</p>"
    head = ("<tr><th>domain</th><th class=n>read</th><th class=n>kept</th><th class=n>removed</th>"
            "<th class=n>errors</th><th class=n>removed %</th><th class=n>bytes</th>"
            "<th class=n>tokens</th></tr>")

    def rows(names: list[str]) -> str:
        return "".join(
            f'<tr data-domain="{escape(name, quote=True)}"><td>{escape(name)}</td>'
            f'<td class=n>{domains[name]["read"]:,}</td><td class=n>{domains[name]["kept"]:,}</td>'
            f'<td class=n>{domains[name]["removed"]:,}</td>'
            f'<td class=n>{domains[name].get("errors", 0):,}</td>'
            f'<td class=n>{100 * _removed_share(domains[name]):.1f}</td>'
            f'<td class=n>{domains[name]["bytes"]:,}</td>'
            f'<td class=n>{domains[name].get("tokens", 0):,}</td></tr>' for name in names)

    named = [name for name in domains if not name.startswith("(")]
    by_volume = sorted(domains, key=lambda name: (-domains[name]["bytes"], name))
    large = [name for name in named if domains[name]["read"] >= MIN_DOMAIN_DOCUMENTS] or named
    by_removed = sorted(large, key=lambda name: (-_removed_share(domains[name]),
                                                 -domains[name]["read"], name))
    return (f"<p>{len(named):,} registered domains (Public Suffix List snapshot of tldextract); "
            f"documents without a URL are under (no url).</p>"
            f"<h3>Top domains by volume (bytes of input text)</h3>"
            f"<table id=domains-by-volume>{head}{rows(by_volume[:TOP_DOMAINS_SHOWN])}</table>"
            f"<h3>Top domains by removed share</h3><p class=muted>Domains with at least "
            f"{MIN_DOMAIN_DOCUMENTS} documents read, if any.</p>"
            f"<table id=domains-by-removed>{head}{rows(by_removed[:TOP_DOMAINS_SHOWN])}</table>")


def _removed_share(counts: dict[str, int]) -> float:
    return counts["removed"] / counts["read"] if counts["read"] else 0.0


def _errors(manifest: dict[str, Any], stats: dict[str, Any]) -> str:
    """Error records grouped by what went wrong, with a few examples of each."""
    errors = stats.get("errors") or {}
    by_reason: dict[str, int] = errors.get("by_reason", {})
    if not by_reason:
        return "<p class=muted>No record became an error.</p>"
    parts = [f"<p>{manifest['counts']['errors']:,} error records (in <code>errors/</code>), "
             f"grouped by reason.</p><table id=error-reasons><tr><th>reason</th>"
             f"<th class=n>records</th></tr>"]
    parts += [f'<tr data-reason="{escape(reason, quote=True)}"><td>{escape(reason)}</td>'
              f"<td class=n>{count:,}</td></tr>" for reason, count in by_reason.items()]
    parts.append("</table>")
    for reason, examples in errors.get("samples", {}).items():
        parts.append(f"<h3>{escape(reason)}</h3><ul>")
        for example in examples:
            source = example.get("source") or {}
            where = " ".join(f"{key} {value}" for key, value in source.items()
                             if value is not None)
            url = (f' <span class=url>{escape(example["url"])}</span>'
                   if example.get("url") else "")
            parts.append(f'<li><code>{escape(str(example.get("id") or ""))}</code> '
                         f'<span class=muted>{escape(where)}</span>{url}: '
                         f'{escape(example["error"])}</li>')
        parts.append("</ul>")
    return "".join(parts)


def _url(example: dict[str, Any]) -> str:
    """The URL of an example, shown beside its id (text, not a link: the page links nowhere)."""
    url = example.get("url")
    return f" <span class=url>{escape(url)}</span>" if url else ""


def _signals(stats: dict[str, Any], thresholds: dict[str, list[dict[str, Any]]]) -> str:
    histograms: dict[str, dict[str, dict[str, int]]] = stats.get("histograms", {})
    if not histograms:
        return "<p class=muted>No step of this run computed a signal.</p>"
    parts = ["<p class=muted>Values of each signal over the kept and the removed documents "
             "(removed by any step); dashed lines are the run's thresholds. Bins are 0.001 wide "
             "over [-1, 1] and 20 per decade beyond, on a log axis.</p>"]
    for name, bins in histograms.items():
        limits = thresholds.get(name, [])
        lines = [Line(limit["value"], f'{limit["step"]}.{limit["option"]} = '
                                      f'{number(limit["value"])}') for limit in limits]
        total = sum(sum(by_key.values()) for by_key in bins.values())
        parts.append(f'<h3 id="signal-{escape(name)}">{escape(name)} '
                     f'<span class=muted>({total:,} documents)</span></h3>'
                     + histogram(bins, VERDICTS, lines))
    return "".join(parts)


def segments_html(segments: list[dict[str, str]]) -> str:
    """Text with cut spans struck through and labelled with their rule."""
    parts = []
    for segment in segments:
        if "cut" not in segment:
            parts.append(escape(segment["text"]))
            continue
        detail = escape(segment.get("detail", ""), quote=True)
        parts.append(f'<span class=rule title="{detail}">{escape(segment["rule"])}</span>'
                     f'<del title="{detail}">{escape(segment["cut"])}</del>')
        if segment.get("replacement"):
            parts.append(f'<ins>{escape(segment["replacement"])}</ins>')
    return "".join(parts)


def signals_table(signals: dict[str, Any], causes: Collection[str] = ()) -> str:
    """Signals as a table; those that broke a threshold are highlighted as the cause."""
    rows = "".join(
        f'<tr{" class=cause" if name in causes else ""}><td>{escape(name)}</td>'
        f'<td class=n>{escape(value if isinstance(value, str) else number(value))}</td></tr>'
        for name, value in signals.items())
    return f"<table class=signals>{rows}</table>" if rows else ""


def _removed_examples(stats: dict[str, Any],
                      thresholds: dict[str, list[dict[str, Any]]]) -> str:
    samples: dict[str, list[dict[str, Any]]] = stats.get("removed_samples", {})
    if not samples:
        return "<p class=muted>No document was removed.</p>"
    parts = ["<p class=muted>A uniform sample per reason (the same in every run of the same "
             "input). The signal that crossed the step's threshold is highlighted.</p>"]
    for reason, examples in samples.items():
        parts.append(f'<h3 id="reason-{escape(reason)}">{escape(reason)} '
                     f'<span class=muted>({len(examples)} shown)</span></h3>')
        for example in examples:
            removal = example["removed_by"]
            causes = {name for name, limits in thresholds.items() for limit in limits
                      if limit["step"] == removal["step"]
                      and _breaks(example["signals"].get(name), limit)}
            duplicate = (f' duplicate of <code>{escape(example["duplicate_of"])}</code>, cluster '
                         f'<code>{escape(str(example.get("cluster")))}</code>'
                         if example.get("duplicate_of") else "")
            more = (f'<span class=muted> […{example["more_chars"]:,} more characters]</span>'
                    if example.get("more_chars") else "")
            parts.append(
                f'<details class=example><summary><code>{escape(example["id"])}</code>'
                f'{_url(example)}: '
                f'<span class=cause>{escape(removal["detail"] or removal["rule"])}</span>'
                f'{duplicate}</summary>{signals_table(example["signals"], causes)}'
                f'<div class=doc>{segments_html(example["segments"])}{more}</div></details>')
    return "".join(parts)


def _edits(stats: dict[str, Any]) -> str:
    edits: dict[str, dict[str, int]] = stats.get("edits", {})
    if not edits:
        return "<p class=muted>No span was cut or replaced.</p>"
    ordered = sorted(edits.items(), key=lambda item: -item[1].get("bytes", item[1]["chars"]))
    chart = horizontal_bars([Row(rule, [values.get("bytes", values["chars"])],
                                 f"({values['count']:,} edits)")
                             for rule, values in ordered], ["bytes removed"])
    table = ["<table id=edit-rules><tr><th>rule</th><th class=n>edits</th><th class=n>characters"
             "</th><th class=n>bytes</th></tr>"]
    for rule, values in ordered:
        table.append(f'<tr data-rule="{escape(rule)}"><td>{escape(rule)}</td>'
                     f'<td class=n>{values["count"]:,}</td><td class=n>{values["chars"]:,}</td>'
                     f'<td class=n>{values.get("bytes", 0):,}</td></tr>')
    table.append("</table>")
    examples = []
    for rule, items in stats.get("edit_samples", {}).items():
        examples.append(f"<h3>{escape(rule)}</h3>")
        for item in items:
            examples.append(f'<details class=example><summary><code>{escape(item["id"])}</code>'
                            f'{_url(item)}</summary>'
                            f'<div class=doc>{segments_html(item["segments"])}</div></details>')
    return (chart + "".join(table) + "<p class=muted>Bytes and characters removed (net of "
            "replacements), over every final document.</p>" + "".join(examples))


def _languages(stats: dict[str, Any]) -> str:
    languages: dict[str, dict[str, int]] = stats.get("languages", {})
    names: dict[str, int] = {}
    for verdict in VERDICTS:
        for name, count in languages.get(verdict, {}).items():
            names[name] = names.get(name, 0) + count
    if not names:
        return ("<p class=muted>No language was identified in this run (no language step, "
                "and no language in the input's metadata).</p>")
    ordered = sorted(names, key=lambda name: (-names[name], name))
    rows = [Row(name, [languages.get(verdict, {}).get(name, 0) for verdict in VERDICTS])
            for name in ordered[:TOP_LANGUAGES]]
    rest = ordered[TOP_LANGUAGES:]
    if rest:
        rows.append(Row(f"{len(rest)} other languages",
                        [sum(languages.get(verdict, {}).get(name, 0) for name in rest)
                         for verdict in VERDICTS]))
    return horizontal_bars(rows, VERDICTS)


def _clusters(stats: dict[str, Any]) -> str:
    clusters = stats.get("clusters", {})
    if not clusters.get("clusters"):
        return "<p class=muted>No duplicate cluster: no dedup step, or no duplicate found.</p>"
    sizes = clusters["sizes"]
    chart = horizontal_bars([Row(f"{size} documents", [count], "clusters")
                             for size, count in sorted(sizes.items(), key=lambda s: int(s[0]))],
                            ["clusters"])
    rows = "".join(f'<tr><td><code>{escape(str(item["cluster"]))}</code></td>'
                   f'<td class=n>{item["size"]:,}</td>'
                   f'<td><code>{escape(str(item["kept"]))}</code></td></tr>'
                   for item in clusters["largest"])
    return (f"<p>{clusters['clusters']:,} clusters of duplicates. Cluster sizes count the "
            f"kept document and its removed copies, per dedup step: copies an exact-dedup step "
            f"removed are not counted again in a later near-duplicate cluster.</p>{chart}"
            f"<h3>Largest clusters</h3>"
            f"<table id=largest-clusters><tr><th>cluster</th><th class=n>documents</th>"
            f"<th>kept</th></tr>{rows}</table>")


def _run_facts(manifest: dict[str, Any], stats: dict[str, Any]) -> str:
    seconds = stats.get("seconds", {})
    wall = seconds.get("wall") or manifest.get("seconds") or 0
    read = manifest["counts"]["read"]
    megabytes = stats.get("bytes_in", 0) / 1e6
    worker = seconds.get("total", 0)
    facts = [
        ("tamis", manifest.get("tamis_version", "")),
        ("started", manifest.get("started", "")), ("finished", manifest.get("finished", "")),
        ("wall time", f"{wall:,.1f} s"),
        ("throughput", f"{read / wall:,.1f} documents/s, {megabytes / wall:,.2f} MB/s"
         if wall else "n/a"),
        ("per core", f"{read / worker:,.1f} documents/s, {megabytes / worker:,.2f} MB/s "
         f"({worker:,.1f} s of worker time)" if worker else "n/a"),
        ("inputs", f"{len(manifest.get('inputs', [])):,} files, {len(manifest.get('shards', [])):,}"
                   f" shards"),
        ("description", manifest.get("config", {}).get("description", "")),
    ]
    rows = "".join(f"<tr><th>{escape(key)}</th><td>{escape(str(value))}</td></tr>"
                   for key, value in facts)
    steps = [(name, value) for name, value in seconds.items() if name not in ("wall", "total")]
    busy = seconds.get("total") or sum(value for _, value in steps) or 1
    step_rows = "".join(f"<tr><td>{escape(name)}</td><td class=n>{value:,.2f}</td>"
                        f"<td class=n>{100 * value / busy:.1f}</td></tr>" for name, value in steps)
    versions = stats.get("versions") or environment_versions()
    version_rows = "".join(f"<tr><td>{escape(name)}</td><td>{escape(value)}</td></tr>"
                           for name, value in versions.items())
    config = json.dumps(manifest.get("config", {}), indent=2, ensure_ascii=False)
    return (f"<table id=facts>{rows}</table><h3>Time per step (seconds of worker time)</h3>"
            f"<table><tr><th>step</th><th class=n>s</th><th class=n>%</th></tr>{step_rows}"
            f"</table><h3>Versions</h3><table>{version_rows}</table>"
            f"<h3>Config</h3><pre class=config>{escape(config)}</pre>")
