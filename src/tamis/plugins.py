"""Plugins: the user's own modules, whose import registers steps and readers.

A plugin is a Python file (`rules/casino.py`), a module importable from `sys.path`
(`my_rules.casino`), or an installed package that names a module in the entry-point group
`tamis.plugins` (found without being asked for: see `tamis.step.registry`). The run loads the
config's `plugins:` (and `--plugin`) in the main process and again in every worker, local or
Ray, before it builds the steps; the steps then work by name like built-in ones.

A worker is a fresh interpreter: it finds a step only by importing the module that registers
it. A step registered in `__main__` (a script run directly, a notebook, stdin) cannot be
imported there, so a run that needs workers refuses it before it starts (`check_importable`).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from tamis.step import Reader, Step

PREFIX = "tamis_plugin_"


class PluginError(ValueError):
    """A plugin could not be found or imported, or a step cannot reach the workers."""


def is_file(plugin: str) -> bool:
    """A plugin given as a file path (rather than a module name)."""
    return plugin.endswith(".py") or "/" in plugin or "\\" in plugin


def resolve(plugin: str, base: Path | None = None) -> str:
    """A plugin as the workers should see it: a file as an absolute path (relative to `base`,
    the folder of the config that names it, or the current folder), a module name as is."""
    if not is_file(plugin):
        return plugin
    path = Path(plugin).expanduser()
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    return str(path.resolve())


def load(plugins: list[str]) -> list[ModuleType]:
    """Import each plugin once per process; a second call is free."""
    return [_load_one(plugin) for plugin in plugins]


def _load_one(plugin: str) -> ModuleType:
    if is_file(plugin):
        path = Path(plugin)
        name = module_name(path)
        if name in sys.modules:
            return sys.modules[name]
        if not path.is_file():
            raise PluginError(f"plugin file {plugin} does not exist")
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # before running it, so its classes pickle by this name
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            del sys.modules[name]
            raise PluginError(f"plugin {plugin} failed to load: {type(error).__name__}: "
                              f"{error}") from error
        return module
    try:
        return importlib.import_module(plugin)
    except ModuleNotFoundError as error:
        if error.name is not None and plugin.startswith(error.name):
            raise PluginError(f"plugin {plugin!r}: no module of that name on the import path; "
                              f"give a module importable from sys.path (PYTHONPATH) or the "
                              f"path of a .py file") from error
        raise PluginError(f"plugin {plugin!r} failed to load: {error}") from error
    except Exception as error:
        raise PluginError(f"plugin {plugin!r} failed to load: {type(error).__name__}: "
                          f"{error}") from error


def module_name(path: Path) -> str:
    """The module name a plugin file is imported under: the same in every process (the
    workers unpickle its classes by it), distinct for two files of the same name."""
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:8]
    stem = "".join(char if char.isalnum() else "_" for char in path.stem)
    return f"{PREFIX}{stem}_{digest}"


def worker_modules(classes: list[type[Step] | type[Reader]], plugins: list[str]) -> list[str]:
    """The modules workers must import to find these classes by name, beyond tamis's own and
    the plugins; raises `PluginError` for a class no worker can import."""
    loaded = {module_name(Path(plugin)) if is_file(plugin) else plugin for plugin in plugins}
    needed: list[str] = []
    for cls in classes:
        module = cls.__module__
        if module == "tamis" or module.startswith("tamis.") or module in loaded:
            continue
        if module in needed:
            continue
        if not _importable(module):
            kind = "reader" if issubclass(cls, Reader) else "step"
            raise PluginError(
                f"the {kind} {cls.name!r} ({cls.__qualname__}) is defined in {_where(module)}, "
                f"which worker processes cannot import. Move it into a .py file and pass it "
                f"with --plugin FILE (or plugins: [FILE] in the config, or "
                f"tamis.run(..., plugins=[FILE])), or run with workers=1 on the local executor")
        needed.append(module)
    return needed


def _importable(module: str) -> bool:
    """Whether a fresh interpreter (a worker) can import `module` by its name."""
    if module == "__main__" or module == "__mp_main__":
        return False
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin not in (None, "built-in")


def _where(module: str) -> str:
    if module in ("__main__", "__mp_main__"):
        return "__main__ (a script run directly, a notebook, stdin or `python -c`)"
    return f"the module {module!r}"


def identity(classes: list[type[Step] | type[Reader]]) -> dict[str, str]:
    """What the run's fingerprint knows of the user's code: per module that is not tamis's,
    a digest of its source (so an edited plugin is a different run, not a resume)."""
    found: dict[str, str] = {}
    for cls in classes:
        module = cls.__module__
        if module == "tamis" or module.startswith("tamis.") or module in found:
            continue
        found[module] = _source_digest(sys.modules.get(module))
    return dict(sorted(found.items()))


def _source_digest(module: Any) -> str:
    path = getattr(module, "__file__", None)
    if path and Path(path).is_file():
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    return "unknown"
