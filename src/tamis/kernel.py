"""Which implementation does the per-word work: the compiled core or the Python reference.

tamis's hot loops (n-gram hashing, and more as they move) exist twice: in Rust, compiled into
the extension module `tamis._core` (the default), and in Python, which stays the executable
specification that tests compare the core with. `TAMIS_KERNEL=python` selects the reference for
a whole process; this module is the one place that reads it. Both give the same output.
"""

from __future__ import annotations

import os
from types import ModuleType

KERNELS = ("rust", "python")


def _load(name: str) -> ModuleType | None:
    if name not in KERNELS:
        raise ValueError(f"TAMIS_KERNEL={name!r} is not a kernel: use one of {', '.join(KERNELS)} "
                         "(or leave it unset for rust)")
    if name == "python":
        return None
    try:
        from tamis import _core
    except ImportError as error:
        raise ImportError(
            "tamis's compiled core (tamis._core) is not built: reinstall with "
            "`pip install -e .` (needs a Rust toolchain), or set TAMIS_KERNEL=python to run "
            f"on the Python reference ({error})") from error
    return _core


NAME: str = os.environ.get("TAMIS_KERNEL", "rust")
# The extension module, or None when the Python reference runs.
core: ModuleType | None = _load(NAME)
