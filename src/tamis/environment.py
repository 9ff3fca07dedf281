"""Problems of the machine a run is on, not of tamis or of the user's data.

A missing optional package, missing object-storage credentials, an unreachable URL or a
language model that is not where its package says: each names its cause and its fix, and the
`tamis` command exits with its own code (6) for all of them, so that `1` keeps meaning a bug.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class EnvironmentProblem(RuntimeError):
    """Something the run needs from its environment is missing; the message says the fix."""


def require(module: str, *, extra: str | None = None, purpose: str,
            package: str | None = None) -> ModuleType:
    """Import an optional module, or say which package to install for what."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        name = package or module
        install = f"pip install 'tamis[{extra}]'" if extra else f"pip install {name}"
        raise EnvironmentProblem(f"{purpose} needs the Python package {name}, which is not "
                                 f"installed ({error}); install it with: {install}") from None
