"""The run configuration: a bundled preset, optionally extended by the user's YAML file.

Everything is validated before any work starts. A misspelt key or a bad value raises
`ConfigError` naming the key and what was expected, so a typo never silently changes a recipe.

A user config may:
- set `input:`, `output:`, `limits:` and `executor:` options (merged key by key over the preset's);
- replace the whole `pipeline:`;
- change options of steps already in the pipeline with `override: {step: {option: value}}`;
- add steps at the end with `append: [...]`;
- load its own steps and readers with `plugins: [file.py or module, ...]` (see `tamis.plugins`).
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ByteSize, ConfigDict, Field, ValidationError, field_validator

from tamis import plugins
from tamis.step import GlobalStep, Step, build_step, readers, registry

PRESETS = ("default", "clean", "dedup", "fineweb", "gopher", "c4", "c4-datatrove")


class ConfigError(ValueError):
    """A configuration problem, with a message that names the key and what was expected."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputOptions(_Strict):
    """How inputs are read and cut into shards."""

    format: str = Field(default="auto", description="auto (by name and leading bytes) or the "
                        "name of a registered reader: txt, jsonl, parquet, warc, html, ...")
    text_field: str = Field(default="text", min_length=1)
    id_field: str = Field(default="id", min_length=1)
    html_field: str | None = Field(
        default=None, min_length=1, description="a JSONL/Parquet field holding HTML to extract")
    shard_size: ByteSize = Field(default=ByteSize(128 * 1024**2), gt=0,
                                 description="target input bytes per shard")
    max_record_size: ByteSize = Field(default=ByteSize(64 * 1024**2), gt=0,
                                      description="larger records become error records")
    sample: float | None = Field(
        default=None, gt=0, le=1,
        description="keep this fraction of the input records, chosen by a hash of their id: "
                    "the same records whatever the workers or shards (the rest are counted as "
                    "skipped, 'sampled_out')")

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        known = readers()
        if value != "auto" and value not in known:
            raise ValueError(f"unknown format {value!r}; expected auto or one of: "
                             f"{', '.join(sorted(known))}")
        return value


class OutputOptions(_Strict):
    """How records are written."""

    format: Literal["jsonl", "parquet"] = "jsonl"
    compression: Literal["zstd", "gzip", "none"] = Field(
        default="zstd", description="how JSON lines parts are compressed (.jsonl.zst, "
                                    ".jsonl.gz, .jsonl); Parquet parts are always zstd inside")
    compression_level: int = Field(default=3, ge=1, le=19)
    fields: list[Literal["id", "text", "url", "metadata", "source", "signals", "edits"]] | None = (
        Field(default=None, description="the columns of kept/ (a lean training output, e.g. "
                                        "[id, text, url]); none: every column"))


class LimitsOptions(_Strict):
    """Guards that keep one hostile document from stalling a worker, and the memory budget of
    the global steps."""

    step_timeout: float = Field(
        default=60.0, ge=0,
        description="seconds a document may spend in the per-document steps (0: no limit)")
    max_document_chars: int = Field(
        default=5_000_000, ge=0,
        description="longer documents are removed before any step runs (0: no limit)")
    # One budget for the machine rather than an option per step: it is a property of where the
    # run happens, not of the recipe, and every global step (exact and near dedup) resolves with
    # it. It never changes the output (tested), so it is left out of the run's fingerprint: a
    # run whose resolve ran out of memory resumes with a smaller budget.
    memory_mb: float = Field(
        default=1024, gt=0,
        description="memory in MB a global step's resolve may use for its sorts and joins; "
                    "above it, the work spills to partition files in the run's work folder")


class ExecutorOptions(_Strict):
    """Where shards run. Not part of the config's fingerprint: it never changes the output."""

    kind: Literal["local", "ray"] = "local"
    address: str | None = Field(
        default=None, description="Ray cluster address ('auto' joins a running cluster)")
    cpus_per_task: float = Field(default=1.0, gt=0)
    memory_per_task: ByteSize | None = Field(
        default=None, description="memory Ray reserves per shard task")
    max_retries: int = Field(default=3, ge=0, description="Ray retries of a shard whose "
                             "worker died")


class StepEntry(_Strict):
    """One pipeline step: its registered name and validated options."""

    name: str
    options: dict[str, Any] = Field(default_factory=dict)


class Config(_Strict):
    """A complete, validated run configuration."""

    description: str = ""
    input: InputOptions = InputOptions()
    output: OutputOptions = OutputOptions()
    limits: LimitsOptions = LimitsOptions()
    executor: ExecutorOptions = ExecutorOptions()
    # Files (absolute paths) and modules whose import registers steps and readers; every
    # worker imports them before it builds the steps.
    plugins: list[str] = Field(default_factory=list)
    pipeline: list[StepEntry] = Field(default_factory=list)

    def build_steps(self) -> list[Step]:
        """The pipeline's steps, ready to run (in a worker too: it loads the plugins first)."""
        plugins.load(self.plugins)
        steps = [build_step(entry.name, entry.options) for entry in self.pipeline]
        for step in steps:
            if isinstance(step, GlobalStep):
                step.memory_budget = int(self.limits.memory_mb * 1024**2)
        return steps

    def fingerprint(self) -> str:
        """A hash of everything that changes the output (workers and progress do not)."""
        canonical = json.dumps(self.model_dump(
            mode="json", exclude={"executor": True, "limits": {"memory_mb"}}), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class _UserFile(_Strict):
    """What a user's YAML file may contain."""

    description: str | None = None
    input: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    limits: dict[str, Any] | None = None
    executor: dict[str, Any] | None = None
    plugins: list[str] | None = None
    pipeline: list[Any] | None = None
    override: dict[str, dict[str, Any]] | None = None
    append: list[Any] | None = None

    @field_validator("pipeline", "append")
    @classmethod
    def _steps_are_names_or_mappings(cls, value: list[Any] | None) -> list[Any] | None:
        for entry in value or []:
            if not isinstance(entry, str | dict):
                raise ValueError("each step is a name or a one-key mapping {name: {options}}")
        return value


def load_config(preset: str | None = None, path: str | Path | None = None,
                overrides: dict[str, Any] | None = None,
                plugins: list[str] | None = None) -> Config:
    """The preset (default: `default`), extended by the YAML file at `path` and `overrides`;
    `plugins` (files or modules, as `--plugin` gives them) are added to the config's."""
    data = load_preset(preset or "default")
    if path is not None:
        data = _merge(data, _read_yaml(path), str(path), Path(path).parent)
    if overrides:
        data = _merge(data, overrides, "arguments")
    if plugins:
        data = _merge(data, {"plugins": plugins}, "arguments")
    return validate(data, source=str(path) if path else f"preset {preset or 'default'}")


def load_preset(name: str) -> dict[str, Any]:
    """A bundled preset as a plain mapping."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; expected one of: {', '.join(PRESETS)}")
    text = resources.files("tamis.presets").joinpath(f"{name}.yaml").read_text("utf-8")
    return yaml.safe_load(text) or {}


def _read_yaml(path: str | Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text("utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror or error}") from error
    try:
        data = yaml.safe_load(text)  # safe_load: reading a config never runs code
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys "
                          f"(input, output, pipeline, override, append), not {type(data).__name__}")
    return data


def _merge(base: dict[str, Any], layer: dict[str, Any], source: str,
           base_folder: Path | None = None) -> dict[str, Any]:
    try:
        user = _UserFile(**layer)
    except ValidationError as error:
        raise ConfigError(_describe(error, source, _UserFile)) from None
    merged = dict(base)
    if user.plugins:  # files relative to the config that names them
        known = list(base.get("plugins") or [])
        added = [plugins.resolve(plugin, base_folder) for plugin in user.plugins]
        merged["plugins"] = known + [plugin for plugin in added if plugin not in known]
    if user.description is not None:
        merged["description"] = user.description
    for section in ("input", "output", "limits", "executor"):
        extra = getattr(user, section)
        if extra:
            merged[section] = {**(base.get(section) or {}), **extra}
    if user.pipeline is not None:
        merged["pipeline"] = list(user.pipeline)
    if user.override:
        merged["pipeline"] = _override(merged.get("pipeline") or [], user.override, source)
    if user.append:
        merged["pipeline"] = list(merged.get("pipeline") or []) + list(user.append)
    return merged


def _override(pipeline: list[Any], changes: dict[str, dict[str, Any]], source: str) -> list[Any]:
    names = [_entry_name(entry) for entry in pipeline]
    result = list(pipeline)
    for name, options in changes.items():
        if name not in names:
            raise ConfigError(f"{source}: override.{name}: no step {name!r} in the pipeline "
                              f"(steps: {', '.join(names) or 'none'}); use append to add it")
        index = names.index(name)
        result[index] = {name: {**_entry_options(result[index]), **(options or {})}}
    return result


def _entry_name(entry: Any) -> str:
    return entry if isinstance(entry, str) else next(iter(entry))


def _entry_options(entry: Any) -> dict[str, Any]:
    return {} if isinstance(entry, str) else dict(entry[next(iter(entry))] or {})


def validate(data: dict[str, Any], source: str = "config") -> Config:
    """Turn a merged mapping into a `Config`, checking every step name and option (after
    loading the plugins, whose steps it may name)."""
    try:
        plugins.load(list(data.get("plugins") or []))
        known = registry()
    except (plugins.PluginError, ImportError) as error:
        raise ConfigError(f"{source}: {error}") from None
    entries = []
    for position, entry in enumerate(data.get("pipeline") or []):
        where = f"pipeline[{position}]"
        if isinstance(entry, dict) and len(entry) != 1:
            raise ConfigError(f"{source}: {where}: a step is a one-key mapping "
                              f"{{name: {{options}}}}, got keys {sorted(entry)}")
        name = _entry_name(entry)
        if not isinstance(name, str):
            raise ConfigError(f"{source}: {where}: a step is a name or a one-key mapping "
                              f"{{name: {{options}}}}, got {entry!r}")
        given = entry[name] if isinstance(entry, dict) else None
        if given is not None and not isinstance(given, dict):
            raise ConfigError(f"{source}: {where}.{name}: a step's options are a mapping "
                              f"{{option: value}}, got {type(given).__name__} {given!r}")
        options = _entry_options(entry)
        if name not in known:
            raise ConfigError(f"{source}: {where}: unknown step {name!r}; "
                              f"expected one of: {', '.join(sorted(known))}")
        try:
            known[name].Options(**options)
        except ValidationError as error:
            raise ConfigError(_describe(error, source, known[name].Options,
                                        prefix=f"{where}.{name}")) from None
        entries.append({"name": name, "options": options})
    try:
        config = Config(**{**data, "pipeline": entries})
    except ValidationError as error:
        raise ConfigError(_describe(error, source, Config)) from None
    _check_signal_names(config, source)
    return config


# Signals a reader sets, before any step.
READER_SIGNALS = ("invalid_utf8_bytes",)
_PROBE = ("The harbour opened at dawn, and the fishing boats went out one after another. "
          "By noon the market square was full of people buying bread and fish.\n\n"
          "In the evening the wind turned, and rain fell over the valley until morning.")


def _check_signal_names(config: Config, source: str) -> None:
    """A step option naming a signal (`keep: signal` with `signal: NAME`) must name one that an
    earlier step makes. Which signals a step makes is seen by running it on a sample text
    (steps set their signals on every document); a step that cannot run on it (a model or a
    file it needs) might make any signal, and then the name is accepted."""
    wanted = [(position, entry) for position, entry in enumerate(config.pipeline)
              if entry.options.get("keep") == "signal" and entry.options.get("signal")]
    if not wanted:
        return
    from tamis.document import Document

    steps = config.build_steps()
    for position, entry in wanted:
        made = set(READER_SIGNALS)
        for step in steps[:position]:
            if isinstance(step, GlobalStep):
                continue
            probe = Document(id="probe", input_text=_PROBE)
            try:
                step(probe)
            except Exception:
                return  # cannot tell what this step makes
            made.update(probe.signals)
        name = entry.options["signal"]
        if name not in made:
            raise ConfigError(
                f"{source}: pipeline[{position}].{entry.name}.signal: no step before "
                f"{entry.name} makes a signal {name!r} (they make: "
                f"{', '.join(sorted(made))}); name one of those, or add the step that makes it "
                f"before {entry.name}")


def _describe(error: ValidationError, source: str, model: type[BaseModel],
              prefix: str = "") -> str:
    """One line per problem: which key, what was wrong, what is expected."""
    lines = []
    for problem in error.errors():
        location = ".".join(str(part) for part in (prefix, *problem["loc"]) if part != "")
        if problem["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, problem["loc"][:-1])
            hint = f"; expected one of: {', '.join(allowed)}" if allowed else ""
            lines.append(f"{location}: unknown key{hint}")
        else:
            lines.append(f"{location}: {problem['msg']} (got {problem.get('input')!r})")
    return f"{source}: " + "\n  ".join(lines)


def _allowed_keys(model: type[BaseModel], location: tuple[Any, ...]) -> list[str]:
    current: Any = model
    for part in location:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        current = field.annotation
    return sorted(getattr(current, "model_fields", {}))
