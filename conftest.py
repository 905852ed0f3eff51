"""pytest collects the examples in rule files: each *.rules file -> one test item per example of its version.

An item is named `EXAMPLE[VERSION]` (e.g. `target_97_99_lower[R6]`); the version runs the
examples it states and those it inherits, as `kokuho test` does. A failure shows each
failing `expect` with its file:line, the expected and the actual value, and the derivation.
Rule files under a `tests` directory are test fixtures, not rule sets, and are skipped.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_collect_file(file_path: Path, parent):
    if file_path.suffix == ".rules" and "tests" not in file_path.parts[-4:-1]:
        return RulesFile.from_parent(parent, path=file_path)
    return None


class RulesFile(pytest.File):
    """One rule file: the examples of the version it defines."""

    def collect(self):
        from engine.errors import KokuhoError
        from engine.examples import load_for_test

        try:
            ruleset, versions = load_for_test([self.path])
        except KokuhoError as e:
            raise self.CollectError("the rules cannot run their examples:\n" + "\n".join(f.render() for f in e.findings)) from None
        for vid in versions:
            version = ruleset.version(vid)
            for example in version.examples():
                yield ExampleItem.from_parent(self, name=f"{example.name}[{vid}]", version=version, example=example)


class ExampleFailed(Exception):
    """An example whose expectations do not hold; the message is the report."""


class ExampleItem(pytest.Item):
    def __init__(self, *, version, example, **kwargs):
        super().__init__(**kwargs)
        self.version = version
        self.example = example

    def runtest(self):
        from engine.examples import failure_text, run_example

        run = run_example(self.version, self.example)
        if not run.passed:
            raise ExampleFailed(failure_text(run))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ExampleFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.example.span.file, self.example.span.line - 1, f"example {self.example.name} under version {self.version.id}"
