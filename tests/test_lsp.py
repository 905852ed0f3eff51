"""`kokuho lsp` end to end: a real server process over stdio, driven by pygls's own language client as an editor would.

The client runs in an event loop of its own thread, so that the tests are plain functions: each request
waits for its answer, each notification is sent in order. The workspace is a temporary folder holding a
draft revision R7 that extends the shipped R6 (found in rules/tokyo, since nothing next to the draft
declares R6), and small versions A1 and B1 to show that the unsaved text of an open base version is what
the files extending it are checked against.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from pathlib import Path

import pytest
from lsprotocol import types
from pygls import uris
from pygls.lsp.client import LanguageClient

from engine.format import format_text

ROOT = Path(__file__).resolve().parent.parent
R6 = ROOT / "rules" / "tokyo" / "R6.rules"
R3 = ROOT / "rules" / "tokyo" / "R3.rules"
TIMEOUT = 30  # seconds for one answer

DRAFT = """\
ruleset R7 extends R6
  title "試案"
  status proposed
  period 令和7～9年度

define alpha_gap "αの残り" : ratio = 1 - alpha
  cite "第4章 試案"
define low_rate "90%未満" : bool = collection_rate < 90
  cite "第5章 試案"
"""


class Editor:
    """A pygls client connected to `python -m cli lsp`, in a thread of its own; the diagnostics last published per file."""

    def __init__(self, root: Path):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="lsp-client", daemon=True)
        self.thread.start()
        self.client = LanguageClient("kokuho-tests", "1")
        self.diagnostics: dict[str, list[types.Diagnostic]] = {}

        @self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def publish(params: types.PublishDiagnosticsParams):
            self.diagnostics[params.uri] = list(params.diagnostics)

        self.wait(self.client.start_io(sys.executable, "-m", "cli", "lsp", cwd=str(ROOT)))
        folder = uris.from_fs_path(str(root))
        self.wait(
            self.client.initialize_async(
                types.InitializeParams(
                    capabilities=types.ClientCapabilities(),
                    process_id=None,
                    root_uri=folder,
                    workspace_folders=[types.WorkspaceFolder(uri=folder, name="ws")],
                )
            )
        )
        self.notify(self.client.initialized, types.InitializedParams())

    def wait(self, coro):
        """Run a coroutine of the client in its loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(TIMEOUT)

    def notify(self, method, params) -> None:
        self.loop.call_soon_threadsafe(method, params)

    def close(self) -> None:
        try:
            self.wait(self.client.shutdown_async(None))
            self.notify(self.client.exit, None)
            time.sleep(0.2)
            self.wait(self.client.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ws")
    (root / "drafts").mkdir()
    (root / "drafts" / "R7.rules").write_text(DRAFT, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def client(workspace: Path):
    editor = Editor(workspace)
    yield editor
    editor.close()


def uri_of(path: Path) -> str:
    return uris.from_fs_path(str(path))


def diagnostics_for(client: Editor, uri: str, want=lambda ds: True) -> list[types.Diagnostic]:
    """The diagnostics last published for uri, once they satisfy `want` (the server publishes after a short pause)."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        ds = client.diagnostics.get(uri)
        if ds is not None and want(ds):
            return ds
        time.sleep(0.05)
    raise AssertionError(f"no diagnostics as wanted for {uri}; last: {client.diagnostics.get(uri)}")


def open_doc(client: Editor, path: Path, text: str | None = None, version: int = 1) -> str:
    uri = uri_of(path)
    client.notify(
        client.client.text_document_did_open,
        types.DidOpenTextDocumentParams(
            types.TextDocumentItem(
                uri=uri, language_id="kokuho", version=version, text=path.read_text(encoding="utf-8") if text is None else text
            )
        ),
    )
    return uri


def close_doc(client: Editor, uri: str) -> None:
    client.notify(client.client.text_document_did_close, types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri=uri)))


def change_doc(client: Editor, uri: str, text: str, version: int) -> None:
    client.notify(
        client.client.text_document_did_change,
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        ),
    )


def rng(l1, c1, l2, c2) -> types.Range:
    return types.Range(start=types.Position(line=l1, character=c1), end=types.Position(line=l2, character=c2))


def line_of(path: Path, needle: str) -> int:
    return next(k for k, line in enumerate(path.read_text(encoding="utf-8").splitlines()) if needle in line)


def test_diagnostic_has_code_and_range(client: Editor, workspace: Path):
    """A bare 90 beside a percent: the check's finding arrives on open, with its code, the range of the number and the message."""
    uri = open_doc(client, workspace / "drafts" / "R7.rules")
    ds = diagnostics_for(client, uri, lambda ds: len(ds) > 0)
    assert [(d.code, d.range, d.severity, d.source) for d in ds] == [
        ("bare-number", rng(7, 51, 7, 53), types.DiagnosticSeverity.Error, "kokuho")
    ]
    assert ds[0].message == "the plain number 90 stands beside percent; write 90% (a plain number is a ratio: 1 = 100%)"
    assert ds[0].code_description.href.endswith("docs/errors.md#bare-number")


def test_unsaved_edit_clears_and_adds_diagnostics(client: Editor, workspace: Path):
    """The open text is checked, not the file on disk: fixing the number clears the finding; a typo brings unknown-name."""
    path = workspace / "drafts" / "R7.rules"
    uri = uri_of(path)
    diagnostics_for(client, uri, lambda ds: len(ds) == 1)
    change_doc(client, uri, DRAFT.replace("< 90", "< 90%"), 2)
    assert list(diagnostics_for(client, uri, lambda ds: len(ds) == 0)) == []
    change_doc(client, uri, DRAFT.replace("< 90", "< 90%").replace("1 - alpha", "1 - alpah"), 3)
    ds = diagnostics_for(client, uri, lambda ds: len(ds) == 1)
    assert [(d.code, d.range, d.message) for d in ds] == [
        ("unknown-name", rng(5, 38, 5, 43), "unknown name 'alpah'; did you mean 'alpha'?")
    ]
    change_doc(client, uri, DRAFT, 4)
    diagnostics_for(client, uri, lambda ds: [d.code for d in ds] == ["bare-number"])


def test_syntax_error_has_code_and_range(client: Editor, workspace: Path):
    """A file that does not parse: one 'syntax' diagnostic on the unexpected token, with the keyword hint."""
    path = workspace / "drafts" / "broken.rules"
    text = 'ruleset X1\n\ndefien x "x" : ratio = 1\n'
    uri = open_doc(client, path, text)
    ds = diagnostics_for(client, uri, lambda ds: len(ds) > 0)
    assert [(d.code, d.range) for d in ds] == [("syntax", rng(2, 0, 2, 6))]
    assert ds[0].message.startswith("unexpected 'defien' (did you mean 'define'?); expected ")
    actions = client.wait(
        client.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri), range=rng(2, 0, 2, 6), context=types.CodeActionContext(diagnostics=ds)
            )
        )
    )
    assert [(a.title, a.edit.changes[uri][0].new_text, a.edit.changes[uri][0].range) for a in actions] == [
        ("'define' に直す (did you mean 'define'?)", "define", rng(2, 0, 2, 6))
    ]
    close_doc(client, uri)


def test_hover_shows_label_unit_citation_version_and_value(client: Editor, workspace: Path):
    """Hovering `alpha` in the draft: R6's label, unit, citation, that R6 wrote it over R3, and α for R7's first plan year."""
    uri = uri_of(workspace / "drafts" / "R7.rules")
    h = client.wait(
        client.client.text_document_hover_async(
            types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=5, character=40))
        )
    )
    assert h.range == rng(5, 38, 5, 43)
    assert h.contents.value == (
        "**alpha** 「医療費指数反映係数α」\n\n"
        "スケジュール (schedule) · 単位 ratio\n\n"
        f"版: R6 (rules/tokyo/R6.rules:{line_of(R6, 'override schedule alpha') + 1})（R3 を上書き / overrides R3）\n\n"
        "出典: 第4章 令和６年度からαを段階的に引き下げ、令和12年度までにα＝０\n\n"
        "値 FY2025 (R7)（計画期間の初年度、合成サンプルデータ (synthetic sample)）: 0.71（都全体）"
    )


def test_definition_of_an_overridden_item_gives_both_locations(client: Editor, workspace: Path):
    """`alpha` is R6's override of R3's schedule: the definition request answers R6's and then R3's."""
    uri = uri_of(workspace / "drafts" / "R7.rules")
    locs = client.wait(
        client.client.text_document_definition_async(
            types.DefinitionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=5, character=41))
        )
    )
    r6, r3 = line_of(R6, "override schedule alpha"), line_of(R3, "schedule alpha")
    assert [(x.uri, x.range) for x in locs] == [(uri_of(R6), rng(r6, 18, r6, 23)), (uri_of(R3), rng(r3, 9, r3, 14))]


def test_references_cross_extends(client: Editor, workspace: Path):
    """References of `alpha` from the draft: R3's declaration and uses, R6's override and its summary line, the draft's use."""
    uri = uri_of(workspace / "drafts" / "R7.rules")
    locs = client.wait(
        client.client.text_document_references_async(
            types.ReferenceParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=5, character=41),
                context=types.ReferenceContext(include_declaration=True),
            )
        )
    )
    got = sorted((Path(uris.to_fs_path(x.uri)).name, x.range.start.line) for x in locs)
    assert ("R7.rules", 5) in got
    assert ("R3.rules", line_of(R3, "schedule alpha")) in got
    assert ("R3.rules", line_of(R3, "= (1 + alpha * (medical_index - 1))")) in got
    assert ("R6.rules", line_of(R6, "override schedule alpha")) in got
    assert ("R6.rules", line_of(R6, "show alpha, beta")) in got


def test_formatting_gives_kokuho_fmt_output(client: Editor, workspace: Path):
    """Formatting a badly laid out file replaces it with exactly what `kokuho fmt` writes."""
    path = workspace / "drafts" / "messy.rules"
    text = 'ruleset M1\n  title "m"\ndefine   a "a":ratio=1+   2\n     cite "x"\n'
    uri = open_doc(client, path, text)
    edits = client.wait(
        client.client.text_document_formatting_async(
            types.DocumentFormattingParams(
                text_document=types.TextDocumentIdentifier(uri=uri), options=types.FormattingOptions(tab_size=2, insert_spaces=True)
            )
        )
    )
    assert len(edits) == 1
    assert edits[0].range == rng(0, 0, 4, 0)
    assert edits[0].new_text == format_text(text) == 'ruleset M1\n  title "m"\ndefine a "a" : ratio = 1 + 2\n  cite "x"\n'
    close_doc(client, uri)


def test_completion_of_a_half_typed_name(client: Editor, workspace: Path):
    """`= levy_me` completes to the levy names inherited from R3, with their labels."""
    path = workspace / "drafts" / "typing.rules"
    text = 'ruleset T1 extends R6\n  period R7\n\ndefine x "x" : yen = levy_me\n'
    uri = open_doc(client, path, text)
    result = client.wait(
        client.client.text_document_completion_async(
            types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=3, character=29))
        )
    )
    items = {i.label: i for i in result.items}
    assert "levy_medical" in items and "levy_total" in items and "net_levy" in items
    assert items["levy_medical"].detail == "納付金（医療分） · yen · 定義"
    assert items["levy_medical"].kind == types.CompletionItemKind.Variable
    assert "round" in items and "if" in items
    units = client.wait(
        client.client.text_document_completion_async(
            types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=3, character=15))
        )
    )
    assert [i.label for i in units.items] == ["percent", "pp", "yen", "ratio", "count", "year", "bool", "text"]
    close_doc(client, uri)


def test_code_actions_fix_bare_number_and_missing_override(client: Editor, workspace: Path):
    """bare-number -> add the unit; missing-override -> write `override` before the item."""
    uri = uri_of(workspace / "drafts" / "R7.rules")
    ds = diagnostics_for(client, uri, lambda ds: [d.code for d in ds] == ["bare-number"])
    actions = client.wait(
        client.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri), range=ds[0].range, context=types.CodeActionContext(diagnostics=ds)
            )
        )
    )
    assert [(a.title, a.kind, a.edit.changes[uri][0].new_text, a.edit.changes[uri][0].range) for a in actions] == [
        ("単位を付ける: 90% (add the unit)", types.CodeActionKind.QuickFix, "90%", rng(7, 51, 7, 53))
    ]

    path = workspace / "drafts" / "again.rules"
    text = 'ruleset T2 extends R6\n\n# β again\ndefine beta "所得係数β" : ratio = 1\n'
    uri2 = open_doc(client, path, text)
    ds = diagnostics_for(client, uri2, lambda ds: len(ds) > 0)
    assert [(d.code, d.range) for d in ds] == [("missing-override", rng(3, 7, 3, 11))]
    actions = client.wait(
        client.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri2), range=ds[0].range, context=types.CodeActionContext(diagnostics=ds)
            )
        )
    )
    assert [(a.title, a.edit.changes[uri2][0].new_text, a.edit.changes[uri2][0].range) for a in actions] == [
        ("override を付ける (write 'override')", "override ", rng(3, 0, 3, 0))
    ]
    close_doc(client, uri2)


def test_outline_groups_items_by_kind(client: Editor, workspace: Path):
    """The outline of R6: the version, then its items grouped by kind, tables with their bands."""
    uri = open_doc(client, R6)
    symbols = client.wait(
        client.client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    )
    (version,) = symbols
    assert version.name == "ruleset R6 extends R3"
    assert [(g.name, [c.name for c in g.children]) for g in version.children[:4]] == [
        ("定義 (definition)", ["levy_increase", "relief", "net_levy"]),
        ("区分表 (table)", ["target_table"]),
        ("スケジュール (schedule)", ["alpha", "relief_ratio"]),
        ("集計 (summary)", ["年度別集計"]),
    ]
    table = version.children[1].children[0]
    assert [b.name for b in table.children] == [
        "85%未満",
        "85%以上90%未満",
        "90%以上95%未満",
        "95%以上97%未満",
        "97%以上99%未満",
        "99%以上100%以下",
    ]
    assert table.range.start == types.Position(line=line_of(R6, "override table target_table"), character=0)
    close_doc(client, uri)


def test_open_base_text_is_what_extending_files_see(client: Editor, workspace: Path):
    """B extends A; renaming A's item in the editor (unsaved) gives B an unknown-name finding at once."""
    folder = workspace / "pair"
    folder.mkdir()
    a_text = 'ruleset A1\n  period R6\n\ninput prefecture total "合計" : yen\ndefine half "半分" : yen = total / 2\n'
    b_text = 'ruleset B1 extends A1\n\ndefine quarter "四分の一" : yen = half / 2\n'
    (folder / "A1.rules").write_text(a_text, encoding="utf-8")
    (folder / "B1.rules").write_text(b_text, encoding="utf-8")
    ua = open_doc(client, folder / "A1.rules")
    ub = open_doc(client, folder / "B1.rules")
    assert list(diagnostics_for(client, ub, lambda ds: len(ds) == 0)) == []
    change_doc(client, ua, a_text.replace("define half", "define halfs"), 2)
    ds = diagnostics_for(client, ub, lambda ds: len(ds) > 0)
    assert [(d.code, d.range, d.message) for d in ds] == [("unknown-name", rng(2, 30, 2, 34), "unknown name 'half'; did you mean 'halfs'?")]
