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


# Optional packages and what installs them, for an ImportError that reaches the command.
_INSTALLS = {"s3fs": "pip install 'tamis[s3]'", "gcsfs": "pip install 'tamis[gcs]'",
             "ray": "pip install 'tamis[ray]'", "tokenizers": "pip install 'tamis[tokens]'"}
_CREDENTIAL_ERRORS = ("NoCredentialsError", "PartialCredentialsError",
                      "DefaultCredentialsError", "RefreshError")
_NETWORK_ERRORS = ("ClientConnectorError", "ClientConnectionError", "ServerTimeoutError",
                   "EndpointConnectionError", "ConnectTimeoutError", "gaierror")


def explain(error: BaseException) -> EnvironmentProblem | None:
    """The environment problem behind an error from a library (fsspec, botocore, aiohttp), or
    None when it is not one. The whole chain of causes is looked at: libraries wrap."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, EnvironmentProblem):
            return current
        name = type(current).__name__
        if name in _CREDENTIAL_ERRORS:
            return EnvironmentProblem(
                f"no credentials for object storage ({current}); for S3 set AWS_ACCESS_KEY_ID "
                f"and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE with ~/.aws/credentials), for GCS "
                f"GOOGLE_APPLICATION_CREDENTIALS, then rerun")
        if name in _NETWORK_ERRORS or isinstance(current, ConnectionError):
            return EnvironmentProblem(
                f"cannot reach a remote input or output ({current}); check the URL and the "
                f"network (a proxy, a firewall, the endpoint), then rerun")
        if isinstance(current, ImportError):
            missing = current.name or ""
            text = str(current)
            package = next((name for name in _INSTALLS if name == missing or name in text),
                           missing)
            install = _INSTALLS.get(package, f"pip install {package}" if package else
                                    "install the package it names")
            return EnvironmentProblem(f"a Python package is missing ({text}); install it "
                                      f"with: {install}")
        current = current.__cause__ or current.__context__
    return None
