"""Plugins: the user's own steps and readers, from a file, a module or an installed package,
run by `tamis run --plugin` and `plugins:` on every executor like built-in ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO, assert_conserved, output_bytes, read_output, tamis_command

import tamis
from tamis import plugins
from tamis.config import ConfigError
from tamis.step import installed_plugins, readers, registry

# A plugin as a user writes it: a filter with a reason, a cleaner with an edit, and a reader
# for a made-up format (".memo": blocks separated by "%%", each starting "id: NAME").
PLUGIN = '''
import re

import tamis
from tamis.document import Change
from tamis.io.readers import open_input


@tamis.register
class CasinoFilter(tamis.Step):
    """Remove documents that advertise gambling."""

    name = "no_casino"

    class Options(tamis.StepOptions):
        words: list[str] = ["casino", "jackpot"]

    def __call__(self, doc):
        for word in self.options.words:
            if word in doc.text.lower():
                doc.remove(self.name, "gambling", f"mentions {word!r}")
                return


@tamis.register
class DropAdverts(tamis.Step):
    """Cut lines that start with ADVERT:."""

    name = "strip_adverts"

    def __call__(self, doc):
        doc.edit([tamis.Change(m.start(), m.end(), "plugin.advert", "an advert line")
                  for m in re.finditer(r"^ADVERT:.*\\n?", doc.text, flags=re.M)])


@tamis.register
class SameOpening(tamis.GlobalStep):
    """Remove a document that opens with the same line as an earlier one."""

    name = "same_opening"

    def collect(self, doc):
        return {"opening": doc.text.split("\\n", 1)[0]}

    def resolve(self, key_files, work_dir):
        import pyarrow.parquet as pq

        first, decisions = {}, {}
        for shard, path in enumerate(key_files):
            if path.exists():
                for row in pq.read_table(path).to_pylist():
                    if row["opening"] in first:
                        decisions.setdefault(shard, {})[row["index"]] = tamis.Decision(
                            "same_opening", row["opening"], duplicate_of=first[row["opening"]],
                            cluster=first[row["opening"]], id=row["id"])
                    first.setdefault(row["opening"], row["id"])
        return decisions


@tamis.register
class NotesReader(tamis.Reader):
    """Blocks separated by a line "%%"; each starts with "id: NAME"."""

    name = "memo"
    extensions = (".memo",)
    magic = (b"MEMO1\\n",)

    def read(self, file, options, start=0, end=None, lines_before=0):
        with open_input(file) as stream:
            data = stream.read().decode("utf-8")
        for number, block in enumerate(data.removeprefix("MEMO1\\n").split("%%\\n")):
            head, _, text = block.partition("\\n")
            if not head.startswith("id: "):
                yield tamis.ReadError({"file": file.name, "line": number + 1},
                                      f"block {number + 1} has no id line", raw=block[:100])
                continue
            yield tamis.RawRecord(head[4:], {"file": file.name, "line": number + 1},
                                  text=text, size=len(block.encode()))
'''

MEMOS = {
    "a.memo": "MEMO1\nid: tea\nGreen tea is picked in spring.\nADVERT: buy now\nIt is "
               "steamed, rolled and dried.\n%%\nid: slots\nThe casino opens at noon.\n",
    "b.data": "MEMO1\nid: bread\nSourdough needs a starter.\nADVERT: ovens on sale\n%%\n"
              "broken block\n%%\nid: poker\nPlay poker online and win.\n%%\n"
              "id: tea-again\nGreen tea is picked in spring.\nCopied.\n",
}


@pytest.fixture(scope="module")
def plugin_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One plugin file for the module: this process loads it once (as a user's would)."""
    path = tmp_path_factory.mktemp("plugin") / "plugin.py"
    path.write_text(PLUGIN)
    return path


@pytest.fixture
def project(tmp_path: Path, plugin_file: Path) -> Path:
    """A folder of .memo inputs (one named .data: found by its magic) and the plugin."""
    (tmp_path / "plugin.py").symlink_to(plugin_file)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for name, text in MEMOS.items():
        (inputs / name).write_text(text)
    return tmp_path


def check_output(out: Path) -> None:
    """The plugin's reason, edit and reader all show in the records, stats and report."""
    kept = {record["id"]: record for record in read_output(out, "kept")}
    removed = {record["id"]: record for record in read_output(out, "removed")}
    errors = read_output(out, "errors")
    assert sorted(kept) == ["bread", "tea"]
    assert sorted(removed) == ["poker", "slots", "tea-again"]
    assert removed["tea-again"]["removed_by"]["step"] == "same_opening"
    assert removed["tea-again"]["duplicate_of"] == "tea"
    assert removed["slots"]["removed_by"] == {"step": "no_casino", "rule": "gambling",
                                              "detail": "mentions 'casino'"}
    assert removed["poker"]["removed_by"]["detail"] == "mentions 'poker'"  # the override
    assert "ADVERT" not in kept["tea"]["text"]
    assert [edit["original"] for edit in kept["tea"]["edits"]
            if edit["rule"] == "plugin.advert"] == ["ADVERT: buy now\n"]
    assert [error["error"] for error in errors] == ["block 2 has no id line"]
    assert errors[0]["source"]["file"] == "b.data"
    assert_conserved(out)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["removed_by"]["no_casino"] == {"gambling": 2}
    assert stats["edits"]["plugin.advert"]["count"] == 2
    report = tamis_command("report", str(out))
    assert report.returncode == 0, report.stderr
    page = (out / "report.html").read_text()
    assert "no_casino" in page and "gambling" in page and "plugin.advert" in page
    shown = tamis_command("inspect", str(out), "--id", "tea")
    assert shown.returncode == 0 and "plugin.advert" in shown.stdout


def run_with_plugin(project: Path, out: Path, *options: str) -> None:
    """`tamis run --plugin` with the plugin's steps appended (its global step's resolve runs
    where the executor runs it: a Ray task imports the plugin before it unpickles the step)."""
    config = project / "more.yaml"
    config.write_text("pipeline: [normalize, drop_empty]\n"
                      "append:\n  - no_casino: {words: [casino, poker]}\n"
                      "  - strip_adverts\n  - same_opening\n")
    done = tamis_command(
        "run", str(project / "inputs"), "-o", str(out), "--config", str(config),
        "--plugin", str(project / "plugin.py"), "--quiet", *options)
    assert done.returncode == 0, done.stderr
    check_output(out)


def test_plugin_from_the_command_line_with_two_workers(project: Path) -> None:
    out = project / "out"
    run_with_plugin(project, out, "--workers", "2")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["plugins"] == [str((project / "plugin.py").resolve())]
    assert len(manifest["shards"]) == 2  # two files, one shard each: both workers busy


def test_plugin_on_the_ray_executor(project: Path) -> None:
    pytest.importorskip("ray", reason="the Ray extra is not installed")
    run_with_plugin(project, project / "ray", "--executor", "ray")
    run_with_plugin(project, project / "local", "--workers", "2")
    assert output_bytes(project / "ray") == output_bytes(project / "local")


def test_plugin_from_the_config_relative_to_it(project: Path) -> None:
    config = project / "run.yaml"
    config.write_text("plugins: [plugin.py]\n"
                      "pipeline: [normalize, no_casino, strip_adverts, drop_empty, same_opening]\n"
                      "override:\n  no_casino: {words: [casino, poker]}\n")
    out = project / "out"
    os.chdir(REPO)  # the plugin is found beside the config, not in the current folder
    result = tamis.run(project / "inputs", out, config=config, workers=2)
    assert result.counts["read"] == 6
    check_output(out)


def test_an_edited_plugin_is_another_run_not_a_resume(project: Path) -> None:
    own = project / "own_plugin.py"  # run in child processes: this one has its own loaded
    own.write_text(PLUGIN)
    run = ["run", str(project / "inputs"), "-o", str(project / "out"), "--plugin", str(own),
           "--workers", "1", "--quiet"]
    assert tamis_command(*run).returncode == 0
    again = tamis_command(*run)
    assert again.returncode == 0 and "resumed" not in again.stderr  # --quiet prints nothing
    own.write_text(PLUGIN + "\n# edited\n")
    edited = tamis_command(*run)
    assert edited.returncode == 4
    assert "holds a run with a different config or inputs" in edited.stderr


def test_tamis_clean_uses_the_plugins_steps_and_reader(project: Path) -> None:
    done = tamis_command(
        "clean", str(project / "inputs" / "a.memo"), "--plugin", str(project / "plugin.py"),
        "--config", str(_config(project, "pipeline: [normalize, strip_adverts]\n")),
        "--explain")
    assert done.returncode == 0, done.stderr
    assert "plugin.advert" in done.stdout and "Green tea" in done.stdout


def _config(folder: Path, text: str) -> Path:
    path = folder / "extra.yaml"
    path.write_text(text)
    return path


def test_a_missing_or_broken_plugin_is_a_clear_error(project: Path) -> None:
    missing = tamis_command("run", str(project / "inputs"), "-o", str(project / "out"),
                            "--plugin", str(project / "nope.py"))
    assert missing.returncode == 2
    assert f"plugin file {project / 'nope.py'} does not exist" in missing.stderr
    with pytest.raises(ConfigError, match="no module of that name on the import path"):
        tamis.load_config(plugins=["no_such_plugin_module"])
    (project / "broken.py").write_text("raise RuntimeError('half written')\n")
    with pytest.raises(ConfigError, match=r"broken\.py failed to load: RuntimeError: half"):
        tamis.load_config(plugins=[str(project / "broken.py")])
    with pytest.raises(ConfigError, match="unknown format 'xml'; expected auto or one of"):
        tamis.load_config(overrides={"input": {"format": "xml"}})


STDIN_SCRIPT = '''
import sys
import tamis

@tamis.register
class Shout(tamis.Step):
    name = "shout"
    def __call__(self, doc):
        doc.edit([tamis.Change(0, 0, "shout", replacement="!")])

config = tamis.load_config("clean", overrides={"append": ["shout"]})
result = tamis.run(sys.argv[1], sys.argv[2], config=config, workers=int(sys.argv[3]))
print("kept", result.counts["kept"])
'''


def test_a_step_workers_cannot_import_is_refused_before_the_run(project: Path) -> None:
    pages = project / "pages"
    pages.mkdir()
    for number in range(3):
        (pages / f"{number}.txt").write_text(f"Page {number} says hello to the reader.\n")
    config = project / "small.yaml"
    config.write_text("input: {shard_size: 10B}\n")

    def run_from_stdin(workers: int, out: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-", str(pages), str(project / out),
                               str(workers)], input=STDIN_SCRIPT.replace(
                                   '"clean", overrides', f'"clean", "{config}", overrides'),
                              capture_output=True, text=True, env=_env())

    refused = run_from_stdin(2, "out2")
    assert refused.returncode != 0
    assert ("the step 'shout' (Shout) is defined in __main__ (a script run directly, a "
            "notebook, stdin or `python -c`), which worker processes cannot import. Move it "
            "into a .py file and pass it with --plugin FILE") in refused.stderr
    assert not (project / "out2" / "kept").exists()  # refused before any shard ran
    alone = run_from_stdin(1, "out1")  # one worker: everything runs in this process
    assert alone.returncode == 0, alone.stderr
    assert "kept 3" in alone.stdout
    assert read_output(project / "out1", "kept")[0]["text"].startswith("!")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO / "src")}


def test_an_installed_package_declares_steps_by_entry_point(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """A package installed the usual way (a module and its .dist-info with entry_points.txt
    on the import path), found by name without --plugin, here and in the workers."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "tamis_demo_steps.py").write_text(textwrap.dedent('''
        import tamis

        @tamis.register
        class NoShouting(tamis.Step):
            name = "no_shouting"

            def __call__(self, doc):
                if doc.text.isupper():
                    doc.remove(self.name, "shouting", "all capitals")
    '''))
    info = site / "tamis_demo_steps-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tamis-demo-steps\n"
                                   "Version: 0.1\n")
    (info / "entry_points.txt").write_text("[tamis.plugins]\ndemo = tamis_demo_steps\n")
    monkeypatch.syspath_prepend(str(site))
    installed_plugins.cache_clear()
    try:
        assert "no_shouting" in registry()
        assert registry()["no_shouting"].__module__ == "tamis_demo_steps"
    finally:
        installed_plugins.cache_clear()
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "a.txt").write_text("A QUIET PAGE IN CAPITALS\n")
    (pages / "b.txt").write_text("A page in lower case.\n")
    (tmp_path / "cfg.yaml").write_text("input: {shard_size: 10B}\nappend: [no_shouting]\n")
    monkeypatch.setenv("PYTHONPATH", str(site))  # tamis_command puts src/ before it
    done = tamis_command("run", str(pages), "-o", str(tmp_path / "out"), "--preset", "clean",
                         "--config", str(tmp_path / "cfg.yaml"), "--workers", "2", "--quiet")
    assert done.returncode == 0, done.stderr
    removed = read_output(tmp_path / "out", "removed")
    assert [record["removed_by"]["rule"] for record in removed] == ["shouting"]


def test_the_registry_names_each_format_once_and_refuses_a_second_of_a_name() -> None:
    assert {"jsonl", "parquet", "txt", "html", "warc"} <= set(readers())

    class Twin(tamis.Step):
        name = "drop_empty"

    with pytest.raises(ValueError, match="two steps are named 'drop_empty'"):
        tamis.register(Twin)
    assert plugins.is_file("rules/casino.py") and not plugins.is_file("my_rules.casino")
