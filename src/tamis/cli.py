"""The `tamis` command: a thin layer over the Python API.

Exit codes: 0 the run finished (error records included); 2 bad usage or config; 3 no usable
input; 4 the output folder cannot be used (or another run writes it); 5 a worker died (rerun to
resume); 6 the environment lacks something (an optional package, credentials, a reachable URL,
a model file); 130 interrupted, 128 + N stopped by signal N (rerun to resume); 1 an unexpected
internal error.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tamis import __version__
from tamis.api import CleanError, clean_file
from tamis.config import PRESETS, ConfigError, load_config
from tamis.dedup.near import choose_bands, collision_probability
from tamis.document import Document
from tamis.environment import EnvironmentProblem
from tamis.environment import explain as environment_problem
from tamis.io.inputs import InputError
from tamis.plugins import PluginError
from tamis.report.html import write_report
from tamis.report.inspect import find_record, print_record, record_html
from tamis.runner import RunError, run
from tamis.runner.job import Terminated
from tamis.runner.layout import OutputError

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_INPUT, EXIT_OUTPUT, EXIT_RUN = 0, 1, 2, 3, 4, 5
EXIT_ENVIRONMENT = 6
EXIT_INTERRUPTED = 130

EPILOG = """\
examples:
  tamis run crawl/*.warc.gz -o out/ --preset fineweb
  tamis run dump/ -o out/ --config my.yaml --workers 8
  tamis run dump/ -o out/ --plugin my_rules.py --config my.yaml
  tamis run s3://bucket/dump/ -o /shared/clean/ --executor ray --address auto
  tamis clean page.txt --explain
  tamis report out/                 # writes out/report.html
  tamis inspect out/ --id ID
  tamis tokenize out/ --tokenizer tokenizer.json -o tokens/

exit codes: 0 finished (error records included), 2 bad usage or config, 3 no usable input,
4 output folder unusable or in use by another run, 5 a worker died (rerun to resume),
6 something missing from the environment (package, credentials, network, model file),
130 interrupted, 143 stopped by SIGTERM (rerun to resume)
"""


# What the user did wrong (or what stopped the run), how it is labelled, and the exit code.
KNOWN_ERRORS: tuple[tuple[type[Exception], str, int], ...] = (
    (ConfigError, "config error", EXIT_USAGE),
    (InputError, "input error", EXIT_INPUT),
    (OutputError, "output error", EXIT_OUTPUT),
    (CleanError, "error", EXIT_INPUT),
    (RunError, "run stopped", EXIT_RUN),
    (PluginError, "plugin error", EXIT_USAGE),
    (EnvironmentProblem, "environment", EXIT_ENVIRONMENT),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tamis", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Turn raw web-crawled documents into clean, deduplicated, quality-filtered "
                    "text, and say why every removed byte went.")
    parser.add_argument("--version", action="version", version=f"tamis {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run_parser = commands.add_parser(
        "run", help="run a pipeline over files, folders or globs",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run a pipeline over the inputs and write kept/, removed/ and errors/ "
                    "records, manifest.json and stats.json under OUT. Rerunning the same "
                    "command resumes an interrupted run.")
    run_parser.add_argument("inputs", nargs="+", metavar="INPUT",
                            help="files, folders or globs: .jsonl(.gz/.zst), .parquet, .txt, "
                                 ".html, .warc(.gz); local paths or fsspec URLs")
    run_parser.add_argument("-o", "--output", required=True, metavar="OUT",
                            help="output folder (created if missing)")
    run_parser.add_argument("--preset", choices=PRESETS, default=None,
                            help="bundled recipe to start from (default: default)")
    run_parser.add_argument("--config", metavar="FILE",
                            help="YAML file that extends or overrides the preset")
    run_parser.add_argument("--plugin", action="append", default=[], metavar="MODULE_OR_FILE",
                            dest="plugins",
                            help="a .py file or a module whose import registers steps and "
                                 "readers (repeatable; see docs/extending.md)")
    run_parser.add_argument("--workers", type=_positive, default=None, metavar="N",
                            help="worker processes (default: number of CPUs); never changes "
                                 "the output")
    run_parser.add_argument("--limit", type=_positive, default=None, metavar="N",
                            help="stop after N input records (in input order)")
    run_parser.add_argument("--sample", type=_sample_fraction, default=None, metavar="FRACTION",
                            help="keep this fraction of the input records (0 < FRACTION <= 1), "
                                 "chosen by a hash of their id: the same records whatever the "
                                 "workers")
    run_parser.add_argument("--overwrite", action="store_true",
                            help="replace an earlier run's outputs in OUT")
    run_parser.add_argument("--executor", choices=("local", "ray"), default=None,
                            help="where shards run: local processes (default) or a Ray "
                                 "cluster; never changes the output")
    run_parser.add_argument("--address", metavar="ADDR", default=None,
                            help="Ray cluster address ('auto' joins a running cluster; implies "
                                 "--executor ray)")
    run_parser.add_argument("--quiet", action="store_true", help="no progress output")

    clean_parser = commands.add_parser(
        "clean", help="clean one document and print the result",
        description="Print the cleaned text of one document (.txt, .html, or the first record "
                    "of a JSONL/Parquet file), or with --explain every cut and the signals.")
    clean_parser.add_argument("file", metavar="FILE")
    clean_parser.add_argument("--explain", action="store_true",
                              help="show each edit with its rule, then the signals")
    clean_parser.add_argument("--preset", choices=PRESETS, default="clean",
                              help="whose per-document steps to apply (default: clean)")
    clean_parser.add_argument("--config", metavar="FILE",
                              help="YAML file that extends or overrides the preset")
    clean_parser.add_argument("--plugin", action="append", default=[], metavar="MODULE_OR_FILE",
                              dest="plugins",
                              help="a .py file or a module whose import registers steps and "
                                   "readers (repeatable)")
    clean_parser.add_argument("--html", metavar="PAGE",
                              help="also write the explained document as an HTML page")

    report_parser = commands.add_parser(
        "report", help="write the HTML report of a finished run",
        description="Write OUT/report.html: the funnel, signal histograms with thresholds, "
                    "removed examples per reason, span edits, languages, duplicate clusters "
                    "and run facts. One self-contained file that opens from disk.")
    report_parser.add_argument("output", metavar="OUT", help="a finished run's output folder")
    report_parser.add_argument("--to", metavar="PAGE", default=None,
                               help="where to write the page (default: OUT/report.html)")

    inspect_parser = commands.add_parser(
        "inspect", help="show one document of a run: its cuts, signals, verdict and cluster",
        description="Find a document in OUT's kept/, removed/ or errors/ and show it with every "
                    "removed span struck through and labelled with its rule.")
    inspect_parser.add_argument("output", metavar="OUT", help="a run's output folder")
    inspect_parser.add_argument("--id", required=True, dest="doc_id", metavar="ID",
                                help="the document id")
    inspect_parser.add_argument("--html", metavar="PAGE",
                                help="also write the view as an HTML page")
    tokenize_parser = commands.add_parser(
        "tokenize", help="write a run's kept documents as token-id shards for training",
        description="Tokenize OUT's kept documents with a Hugging Face tokenizers file into "
                    "memory-mappable shards under DIR: one .tokens file (uint16 or uint32 ids, "
                    "EOS after each document) and one .index file (uint64 document ends) per "
                    "kept part, and tokenize.json. Rerunning resumes; the bytes are the same.")
    tokenize_parser.add_argument("output", metavar="OUT", help="a finished run's output folder")
    tokenize_parser.add_argument("--tokenizer", required=True, metavar="PATH",
                                 help="a Hugging Face tokenizers JSON file (tokenizer.json)")
    tokenize_parser.add_argument("-o", "--to", required=True, dest="target", metavar="DIR",
                                 help="folder for the shards (created if missing)")
    tokenize_parser.add_argument("--eos", metavar="TOKEN", default=None,
                                 help="the end-of-document token (default: the first of "
                                      "<|endoftext|>, </s>, <eos>... the vocabulary has)")
    bands_parser = commands.add_parser(
        "bands", help="pick MinHash bands x rows for a Jaccard threshold; show the S-curve",
        description="Choose the bands x rows (within a budget of hashes) whose LSH S-curve best "
                    "separates pairs above the Jaccard threshold from pairs below, and print "
                    "the chance that a pair of each similarity becomes a candidate. Put the "
                    "result in the dedup_near step's options.")
    bands_parser.add_argument("--threshold", type=_fraction, default=0.8, metavar="J",
                              help="target Jaccard similarity (default: 0.8)")
    bands_parser.add_argument("--hashes", type=_positive, default=112, metavar="N",
                              help="hashes per document to spend (default: 112 = 14 x 8, "
                                   "FineWeb's)")
    bands_parser.add_argument("--bands", type=_positive, default=None, metavar="B",
                              help="show this many bands instead of choosing")
    bands_parser.add_argument("--rows", type=_positive, default=None, metavar="R",
                              help="with --bands: rows per band")
    return parser


def _fraction(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if not 0 < number < 1:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {number}")
    return number


def _sample_fraction(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if not 0 < number <= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1], got {number}")
    return number


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {number}")
    return number


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        if args.command == "run":
            return _run(args, err)
        if args.command == "report":
            return _report(args, err)
        if args.command == "inspect":
            return _inspect(args, err)
        if args.command == "bands":
            return _bands(args, err)
        if args.command == "tokenize":
            return _tokenize(args, err)
        return _clean(args)
    except (ConfigError, InputError, OutputError, CleanError, RunError, PluginError,
            EnvironmentProblem) as error:
        label, code = next((label, code) for kind, label, code in KNOWN_ERRORS
                           if isinstance(error, kind))
        err.print(f"[red]{label}:[/] {escape(str(error))}")
        return code
    except KeyboardInterrupt as interruption:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C: we are ending anyway
        if isinstance(interruption, Terminated):
            err.print(f"stopped by {interruption}; rerun the same command to resume")
            return 128 + interruption.signum
        err.print("interrupted; rerun the same command to resume")
        return EXIT_INTERRUPTED
    except Exception as error:
        problem = environment_problem(error)
        if problem is not None:
            err.print(f"[red]environment:[/] {escape(str(problem))}")
            return EXIT_ENVIRONMENT
        if os.environ.get("TAMIS_DEBUG"):
            raise
        err.print(f"[red]internal error:[/] {type(error).__name__}: {escape(str(error))}\n"
                  f"This is a bug in tamis; rerun with TAMIS_DEBUG=1 for the traceback and "
                  f"report it. Rerunning the same command resumes where the run stopped.")
        return EXIT_INTERNAL


def _run(args: argparse.Namespace, err: Console) -> int:
    result = run(args.inputs, args.output, preset=args.preset, config=args.config,
                 workers=args.workers, limit=args.limit, overwrite=args.overwrite,
                 quiet=args.quiet, executor=args.executor, address=args.address,
                 plugins=args.plugins, sample=args.sample)
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/] {escape(str(warning))}")
    if not args.quiet:
        counts = result.counts
        table = Table(title=f"tamis run -> {result.output}", show_header=False)
        for key in ("read", "kept", "removed", "errors"):
            table.add_row(key, f"{counts[key]:,}")
        for kind, count in counts.get("skipped", {}).items():
            table.add_row(f"skipped ({kind})", f"{count:,}")
        table.add_row("seconds", f"{result.manifest['seconds']:,.1f}")
        if result.resumed:
            table.add_row("note", "resumed an earlier run")
        err.print(table)
    return EXIT_OK


def _clean(args: argparse.Namespace) -> int:
    config = load_config(args.preset, args.config, plugins=args.plugins)
    doc = clean_file(args.file, config=config)
    out = sys.stdout
    if not args.explain:
        if doc.kept:
            out.write(doc.text + "\n")
        else:
            assert doc.removed_by is not None
            Console(stderr=True).print(f"removed by {doc.removed_by.step} "
                                       f"({doc.removed_by.rule}): {doc.removed_by.detail}")
        return EXIT_OK
    explain(doc, Console(highlight=False))
    if args.html:
        Path(args.html).write_text(record_html(_kind(doc), doc.to_record()), "utf-8")
    return EXIT_OK


def _kind(doc: Document) -> str:
    return "kept" if doc.kept else "removed"


def explain(doc: Document, console: Console) -> None:
    """The document with each cut struck through and labelled, then the signals and verdict."""
    print_record(_kind(doc), doc.to_record(), console)


def _report(args: argparse.Namespace, err: Console) -> int:
    try:
        page = write_report(args.output, args.to)
    except FileNotFoundError as error:
        err.print(f"[red]input error:[/] {error}")
        return EXIT_INPUT
    err.print(f"wrote {page}")
    return EXIT_OK


def _inspect(args: argparse.Namespace, err: Console) -> int:
    if not Path(args.output).is_dir():
        err.print(f"[red]input error:[/] {args.output} is not a folder")
        return EXIT_INPUT
    found = find_record(args.output, args.doc_id)
    if found is None:
        err.print(f"[red]not found:[/] no record with id {args.doc_id!r} in {args.output}")
        return EXIT_INPUT
    print_record(found.kind, found.record, Console(highlight=False))
    if args.html:
        Path(args.html).write_text(record_html(found.kind, found.record), "utf-8")
        err.print(f"wrote {args.html}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())


def _tokenize(args: argparse.Namespace, err: Console) -> int:
    from tamis.signals.tokens import TokenizerError
    from tamis.tokenize import TokenizeError, tokenize_run

    try:
        result = tokenize_run(args.output, args.tokenizer, args.target, eos=args.eos)
    except TokenizerError as error:
        err.print(f"[red]usage error:[/] --tokenizer: {escape(str(error))}")
        return EXIT_USAGE
    except TokenizeError as error:
        err.print(f"[red]input error:[/] {escape(str(error))}")
        return EXIT_INPUT
    resumed = f" ({result.skipped} already done)" if result.skipped else ""
    err.print(f"wrote {result.shards} shards{resumed}: {result.documents:,} documents, "
              f"{result.tokens:,} tokens in {result.output}")
    return EXIT_OK


def _bands(args: argparse.Namespace, err: Console) -> int:
    if (args.bands is None) != (args.rows is None):
        err.print("[red]usage error:[/] give --bands and --rows together, or neither to choose")
        return EXIT_USAGE
    bands, rows = ((args.bands, args.rows) if args.bands is not None
                   else choose_bands(args.threshold, args.hashes))
    out = Console(highlight=False)
    out.print(f"bands: {bands}\nrows: {rows}\n({bands * rows} hashes; the S-curve is steepest "
              f"at Jaccard {(1 / bands) ** (1 / rows):.2f}, (1/bands)^(1/rows))\n")
    table = Table("Jaccard", "candidate pair", box=None)
    for similarity in (0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95):
        table.add_row(f"{similarity:.2f}",
                      f"{collision_probability(similarity, bands, rows):.4f}")
    out.print(table)
    return EXIT_OK
