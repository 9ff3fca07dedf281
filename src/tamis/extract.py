"""HTML to text, with a time limit that holds even when the extractor spins inside C code.

Two engines: resiliparse (fast, the default) and trafilatura (slower, more precise; FineWeb's
choice, with `favour_precision`). Both spend their time in C (lexbor, lxml), where a Python signal
handler never runs: a page of 100,000 nested `<div>`s keeps resiliparse's main-content pass busy
for about five minutes, and `signal.alarm` cannot stop it. So extraction runs in a helper process
that lives as long as the worker. The worker hands it one page at a time over a pipe and waits at
most `timeout` seconds for the answer; past that it kills the helper (SIGKILL always works),
starts a fresh one for the next page, and the page becomes an error record. The same isolation
bounds memory: the helper runs under an address-space limit, so a page that would exhaust memory
kills the helper, not the worker.

Encoding: UTF-8 when the bytes are valid UTF-8, else the HTTP header's charset when the reader
found one, else the page's `<meta charset>`, else uchardet's guess (see `decode_html`).
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import resource
import subprocess
import sys
from multiprocessing.connection import Connection
from typing import Literal

import orjson
from pydantic import Field

from tamis.document import Document
from tamis.orphans import die_with_parent
from tamis.step import Step, StepOptions, register

STARTUP_TIMEOUT = 120.0  # seconds for a fresh helper to import its engine: generous, for busy hosts
_OK, _FAILED = b"\x00", b"\x01"


class ExtractionError(Exception):
    """Extraction of one page failed: the message says what failed (time limit, crash, engine)."""


class ExtractOptions(StepOptions):
    engine: Literal["resiliparse", "trafilatura"] = "resiliparse"
    favour_precision: bool = Field(
        True, description="trafilatura: prefer less text but cleaner (FineWeb's setting)")
    main_content: bool = Field(
        True, description="resiliparse: keep the main content only, not menus and footers")
    timeout: float | None = Field(
        10.0, gt=0, description="seconds per page; null extracts in the worker itself, with no "
        "limit (faster, but one pathological page can hang the worker)")
    max_memory_mb: int | None = Field(
        4096, gt=0, description="address-space limit of the extraction helper process")


# -- the extraction itself (runs in the helper, or in the worker when timeout is null) ---------


def decode_html(html: bytes, charset: str | None = None) -> str:
    """Decode a page: UTF-8 if it is valid UTF-8, else the declared charset, else detection.

    Valid UTF-8 wins over any declaration: non-ASCII text in another encoding almost never
    forms valid UTF-8, while pages that declare latin-1 but are UTF-8 are common, and so is
    HTML that was decoded once already and stored as a JSON string (its `<meta charset>` then
    lies). Otherwise the HTTP header's charset, then `<meta charset>`, then uchardet's guess,
    with the WHATWG name mapping browsers use (gb2312 means GBK, iso-8859-1 windows-1252).
    """
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding, map_encoding_to_html5

    try:
        return html.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = map_encoding_to_html5(charset, fallback_utf8=False) if charset else None
    if declared:
        try:
            return html.decode(declared)
        except UnicodeDecodeError:
            pass  # a wrong header charset is common; fall back to the page itself
    return bytes_to_str(html, detect_encoding(html, from_html_meta=True), errors="replace")


def extract_text(html: bytes, options: ExtractOptions, url: str | None = None,
                 charset: str | None = None) -> str:
    """The page's text with the configured engine, in this process and without a time limit."""
    page = decode_html(html, charset)
    if options.engine == "trafilatura":
        import trafilatura
        from trafilatura.deduplication import LRU_SIZE, LRUCache

        # FineWeb's call (datatrove's Trafilatura extractor): no comments, deduplicated. But
        # trafilatura's default duplicate cache lives across calls, so a page's text would
        # depend on the pages the process saw before it (measured: the same page extracted four
        # times in a row gave 367, 367, 367 then 591 characters). A fresh cache per page keeps
        # the repeated-paragraph removal within the page and the output deterministic.
        text = trafilatura.extract(page, url=url, favor_precision=options.favour_precision,
                                   include_comments=False,
                                   deduplicate=LRUCache(maxsize=LRU_SIZE))
        return text or ""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    return extract_plain_text(HTMLTree.parse(page), main_content=options.main_content,
                              alt_texts=False, links=False, form_fields=False, noscript=False,
                              comments=False)


# -- the helper process -----------------------------------------------------------------------


def _main(arguments: list[str]) -> None:
    """The helper's loop: receive (url, charset) and a page, send back the text or the error."""
    connection = Connection(int(arguments[0]))
    options = ExtractOptions.model_validate_json(arguments[1])
    # A page can keep the engine busy for minutes, out of reach of the closed pipe below: the
    # kernel ends the helper when its worker dies, however the worker ends.
    die_with_parent(int(arguments[2]))
    if options.max_memory_mb is not None:
        limit = options.max_memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    extract_text(b"<p>warm up</p>", options)  # import the engine before saying ready
    connection.send_bytes(_OK)
    while True:
        try:
            header = orjson.loads(connection.recv_bytes())
            html = connection.recv_bytes()
        except (EOFError, OSError):  # the worker is gone: so is the helper
            return
        except MemoryError:  # the page alone is over the memory limit: the worker reports it
            sys.exit(3)
        try:
            text = extract_text(html, options, header["url"], header["charset"])
            connection.send_bytes(_OK + text.encode("utf-8", "surrogatepass"))
        except Exception as error:  # the engine's own failure, reported for this page only
            message = f"{options.engine} failed: {type(error).__name__}: {error}"
            connection.send_bytes(_FAILED + message.encode("utf-8", "backslashreplace"))


class _Helper:
    """One helper process and the pipe to it; restarted after a timeout or a crash."""

    def __init__(self, options: ExtractOptions) -> None:
        self.options = options
        self.process: subprocess.Popen[bytes] | None = None
        self.connection: Connection | None = None

    def extract(self, html: bytes, url: str | None, charset: str | None, timeout: float) -> str:
        try:
            connection = self._connection()
            connection.send_bytes(orjson.dumps({"url": url, "charset": charset}))
            connection.send_bytes(html)
            answered = connection.poll(timeout)
            reply = connection.recv_bytes() if answered else None
        except (EOFError, OSError):
            code = self._stop(grace=1.0)
            raise ExtractionError(f"the extraction process died (exit code {code}); the page "
                                  f"may need more than max_memory_mb="
                                  f"{self.options.max_memory_mb}") from None
        except BaseException:
            # Interrupted while starting or between question and answer (Ctrl-C, a signal
            # handler raising): the pending answer would be read for the next page. Only a
            # fresh helper is safe.
            self._stop()
            raise
        if reply is None:
            self._stop()
            raise ExtractionError(f"{self.options.engine} exceeded the time limit of "
                                  f"{timeout:g} s; the extraction was killed")
        if reply[:1] == _FAILED:
            raise ExtractionError(reply[1:].decode("utf-8"))
        return reply[1:].decode("utf-8", "surrogatepass")

    def _connection(self) -> Connection:
        if self.connection is not None:
            return self.connection
        # A fresh interpreter, not a fork: the worker may hold threads and large buffers, and
        # multiprocessing's spawn would re-run the user's main script. The child finds tamis on
        # the worker's own import path and talks over one end of a socket pair.
        ours, theirs = multiprocessing.Pipe()
        command = [sys.executable, "-c", "import sys, tamis.extract as e; e._main(sys.argv[1:])",
                   str(theirs.fileno()), self.options.model_dump_json(), str(os.getpid())]
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, sys.path))}
        # Its own session: a Ctrl-C meant for the run reaches the worker, which then closes the
        # pipe, and the helper ends quietly on the closed pipe.
        process = subprocess.Popen(command, pass_fds=[theirs.fileno()], env=environment,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        theirs.close()
        self.process, self.connection = process, ours
        try:
            ready = ours.poll(STARTUP_TIMEOUT) and ours.recv_bytes() == _OK
        except (EOFError, OSError):
            ready = False
        if not ready:
            code = self._stop()
            raise ExtractionError(f"the {self.options.engine} extraction process did not start "
                                  f"(exit code {code})")
        return ours

    def _stop(self, grace: float = 0.0) -> int | None:
        """Kill the helper (it may be spinning in C code) and forget it; return its exit code.

        `grace` seconds let a helper that is already dying report its own exit code.
        """
        process, connection = self.process, self.connection
        self.process = self.connection = None
        if connection is not None:
            connection.close()
        if process is None:
            return None
        try:
            return process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()


# One helper per engine setting in each worker process, shared by every `Extract` step object
# built with it (the runner may build a default extractor more than once). The time limit is the
# worker's side of the bargain, so it is not part of the key.
_helpers: dict[str, _Helper] = {}


def _helper_key(options: ExtractOptions) -> str:
    return options.model_dump_json(exclude={"timeout"})


def _helper_for(options: ExtractOptions) -> _Helper:
    key = _helper_key(options)
    if key not in _helpers:
        _helpers[key] = _Helper(options)
    return _helpers[key]


@atexit.register
def _stop_helpers() -> None:
    for helper in _helpers.values():
        helper._stop()


@register
class Extract(Step):
    """HTML to text. The runner calls `extract` on every HTML record before it is a document."""

    name = "extract"
    Options = ExtractOptions
    options: ExtractOptions

    def extract(self, html: bytes, *, url: str | None = None, charset: str | None = None) -> str:
        """The page's text; raises `ExtractionError` if the engine fails or runs out of time."""
        if self.options.timeout is None:
            try:
                return extract_text(html, self.options, url, charset)
            except Exception as error:
                raise ExtractionError(f"{self.options.engine} failed: "
                                      f"{type(error).__name__}: {error}") from error
        return _helper_for(self.options).extract(html, url, charset, self.options.timeout)

    def __call__(self, doc: Document) -> None:
        """Nothing to do: the text was extracted before the document was made."""


def helper_pids() -> list[int]:
    """The process ids of this worker's live helpers (for benchmarks and diagnostics)."""
    return [helper.process.pid for helper in _helpers.values() if helper.process is not None]


def helper_pid(options: ExtractOptions) -> int | None:
    """The process id of the live helper for these options (for tests and diagnostics)."""
    helper = _helpers.get(_helper_key(options))
    return helper.process.pid if helper and helper.process else None
