"""Language Server Protocol requests over stdio -> engine/ide.py's answers, for editors (`kokuho lsp`).

Built on pygls, which speaks the protocol; everything the server knows comes from
engine/ide.py's Workspace, which uses the engine's own parser, checks, versions, formatter and
evaluator. Diagnostics are published a moment after the typing stops (DEBOUNCE) for the
changed file and every other open file, since a base version's edit can break the files that
extend it. Positions are converted between the client's units (UTF-16 by default) and
characters here, and only here.

Client settings (initializationOptions, or the `kokuho` section of workspace/didChangeConfiguration):
`data` and `prefectureData`, the data files for a hover's values (default: the workspace's
data/ folder, else the bundled sample).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from lsprotocol import types
from pygls import uris
from pygls.lsp.server import LanguageServer

from . import ide

DEBOUNCE = 0.25  # seconds after the last keystroke before a file is checked again
SYMBOL_KINDS = {
    "version": types.SymbolKind.Module,
    "group": types.SymbolKind.Namespace,
    "input": types.SymbolKind.Field,
    "definition": types.SymbolKind.Function,
    "table": types.SymbolKind.Struct,
    "schedule": types.SymbolKind.Array,
    "summary": types.SymbolKind.Object,
    "example": types.SymbolKind.Event,
    "remove": types.SymbolKind.Null,
    "band": types.SymbolKind.EnumMember,
    "entry": types.SymbolKind.Constant,
}
COMPLETION_KINDS = {
    "keyword": types.CompletionItemKind.Keyword,
    "unit": types.CompletionItemKind.Unit,
    "year": types.CompletionItemKind.Value,
    "function": types.CompletionItemKind.Function,
    "mode": types.CompletionItemKind.EnumMember,
    "version": types.CompletionItemKind.Module,
    "name:input": types.CompletionItemKind.Field,
    "name:definition": types.CompletionItemKind.Variable,
    "name:table": types.CompletionItemKind.Struct,
    "name:schedule": types.CompletionItemKind.Constant,
    "name:key": types.CompletionItemKind.Field,
}


class KokuhoServer(LanguageServer):
    """The pygls server with one ide.Workspace and the pending re-checks of open files."""

    def __init__(self):
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("kokuho-rules")
        except PackageNotFoundError:  # pragma: no cover - run from a checkout without installing
            v = "0"
        super().__init__("kokuho", v, text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.ide = ide.Workspace()
        self.pending: dict[str, asyncio.TimerHandle] = {}
        self.settings: dict = {}

    # ---- positions ----
    def lines(self, path: str) -> list[str]:
        return ide.lines_of(self.ide.text_of(path) or "")

    def to_client(self, path: str, r: ide.Range) -> types.Range:
        codec = self.workspace.position_codec
        lines = self.lines(path)
        return types.Range(start=_client_pos(codec, lines, r.start), end=_client_pos(codec, lines, r.end))

    def from_client(self, path: str, p: types.Position) -> ide.Pos:
        lines = self.lines(path)
        sp = self.workspace.position_codec.position_from_client_units(lines, types.Position(line=p.line, character=p.character))
        return ide.Pos(sp.line, sp.character)

    def location(self, loc: ide.Location) -> types.Location:
        return types.Location(uri=uris.from_fs_path(loc.path), range=self.to_client(loc.path, loc.range))

    # ---- settings ----
    def configure(self, options) -> None:
        if isinstance(options, dict):
            self.settings = dict(options.get("kokuho", options))
        roots = [f.uri for f in (self.workspace.folders or {}).values()] if self.workspace.folders else []
        if not roots and self.workspace.root_uri:
            roots = [self.workspace.root_uri]
        paths = [uris.to_fs_path(u) for u in roots]
        data = None
        m, p = self.settings.get("data"), self.settings.get("prefectureData")
        if m and p:
            base = paths[0] if paths else os.getcwd()
            data = (os.path.join(base, os.path.expanduser(m)), os.path.join(base, os.path.expanduser(p)))
        docs = self.ide.open_docs
        self.ide = ide.Workspace([q for q in paths if q], data=data)
        self.ide.open_docs.update(docs)

    # ---- diagnostics ----
    def publish(self, path: str) -> None:
        self.pending.pop(path, None)
        if path not in self.ide.open_docs:
            return
        uri = uris.from_fs_path(path)
        doc = self.workspace.text_documents.get(uri)
        try:
            diagnostics = [_diagnostic(self, path, d) for d in self.ide.diagnostics(path)]
        except Exception:  # a bug of ours: say so in the editor's log rather than go quiet (a timer has no caller to tell)
            import traceback

            self.window_log_message(
                types.LogMessageParams(
                    type=types.MessageType.Error,
                    message=f"kokuho lsp: internal error while checking {path}; please report this:\n{traceback.format_exc()}",
                )
            )
            return
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=doc.version if doc is not None else None)
        )

    def schedule_all(self, first: str, delay: float, *, others_only: bool = False) -> None:
        """Check `first`, then every other open file, after `delay` seconds without another change."""
        loop = asyncio.get_event_loop()
        for path in ([] if others_only else [first]) + [p for p in self.ide.open_docs if p != first]:
            old = self.pending.pop(path, None)
            if old is not None:
                old.cancel()
            self.pending[path] = loop.call_later(delay if path == first else delay * 2, self.publish, path)


def _client_pos(codec, lines: list[str], p: ide.Pos) -> types.Position:
    if p.line >= len(lines):
        return types.Position(line=max(len(lines) - 1, 0), character=len(lines[-1]) if lines else 0)
    return codec.position_to_client_units(lines, types.Position(line=p.line, character=min(p.col, len(lines[p.line]))))


def _diagnostic(ls: KokuhoServer, path: str, d: ide.Diagnostic) -> types.Diagnostic:
    severity = types.DiagnosticSeverity.Warning if d.severity == "warning" else types.DiagnosticSeverity.Error
    docs = Path(__file__).resolve().parent.parent / "docs" / "errors.md"
    description = types.CodeDescription(href=uris.from_fs_path(str(docs)) + "#" + d.code) if docs.exists() else None
    return types.Diagnostic(
        range=ls.to_client(path, d.range), message=d.message, severity=severity, code=d.code, code_description=description, source="kokuho"
    )


server = KokuhoServer()


def _path(uri: str) -> str:
    return ide.norm_path(uris.to_fs_path(uri) or uri)


@server.feature(types.INITIALIZE)
def initialize(ls: KokuhoServer, params: types.InitializeParams) -> None:
    ls.configure(params.initialization_options)


@server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
def did_change_configuration(ls: KokuhoServer, params: types.DidChangeConfigurationParams) -> None:
    if isinstance(params.settings, dict) and params.settings:
        ls.configure(params.settings)


@server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
def did_change_watched_files(ls: KokuhoServer, params: types.DidChangeWatchedFilesParams) -> None:
    """A rule file was created, changed or deleted on disk: look again, and check the open files again."""
    ls.ide.forget_listing()
    if ls.ide.open_docs:
        ls.schedule_all(next(iter(ls.ide.open_docs)), DEBOUNCE)


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: KokuhoServer, params: types.DidOpenTextDocumentParams) -> None:
    path = _path(params.text_document.uri)
    ls.ide.set_text(path, params.text_document.text)
    ls.publish(path)
    ls.schedule_all(path, DEBOUNCE, others_only=True)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: KokuhoServer, params: types.DidChangeTextDocumentParams) -> None:
    path = _path(params.text_document.uri)
    doc = ls.workspace.get_text_document(params.text_document.uri)
    ls.ide.set_text(path, doc.source)
    ls.schedule_all(path, DEBOUNCE)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: KokuhoServer, params: types.DidSaveTextDocumentParams) -> None:
    ls.schedule_all(_path(params.text_document.uri), 0)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: KokuhoServer, params: types.DidCloseTextDocumentParams) -> None:
    path = _path(params.text_document.uri)
    ls.ide.close(path)
    pending = ls.pending.pop(path, None)
    if pending is not None:
        pending.cancel()
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))


@server.feature(types.TEXT_DOCUMENT_HOVER)
def hover(ls: KokuhoServer, params: types.HoverParams) -> types.Hover | None:
    path = _path(params.text_document.uri)
    found = ls.ide.hover(path, ls.from_client(path, params.position))
    if found is None:
        return None
    text, rng = found
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text), range=ls.to_client(path, rng))


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
def definition(ls: KokuhoServer, params: types.DefinitionParams) -> list[types.Location]:
    path = _path(params.text_document.uri)
    return [ls.location(x) for x in ls.ide.definitions(path, ls.from_client(path, params.position))]


@server.feature(types.TEXT_DOCUMENT_REFERENCES)
def references(ls: KokuhoServer, params: types.ReferenceParams) -> list[types.Location]:
    path = _path(params.text_document.uri)
    return [
        ls.location(x)
        for x in ls.ide.references(path, ls.from_client(path, params.position), declarations=params.context.include_declaration)
    ]


@server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def document_symbol(ls: KokuhoServer, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
    path = _path(params.text_document.uri)

    def convert(s: ide.Symbol) -> types.DocumentSymbol:
        return types.DocumentSymbol(
            name=s.name,
            kind=SYMBOL_KINDS[s.kind],
            detail=s.detail or None,
            range=ls.to_client(path, s.range),
            selection_range=ls.to_client(path, s.selection),
            children=[convert(c) for c in s.children] or None,
        )

    return [convert(s) for s in ls.ide.symbols(path)]


@server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[":", "["]))
def completion(ls: KokuhoServer, params: types.CompletionParams) -> types.CompletionList:
    path = _path(params.text_document.uri)
    items = []
    for c in ls.ide.completions(path, ls.from_client(path, params.position)):
        items.append(
            types.CompletionItem(
                label=c.label,
                kind=COMPLETION_KINDS.get(c.kind, types.CompletionItemKind.Text),
                detail=c.detail or None,
                documentation=c.documentation or None,
                insert_text=c.insert_text,
                sort_text=(c.sort + c.label) if c.sort else None,
            )
        )
    return types.CompletionList(is_incomplete=False, items=items)


@server.feature(types.TEXT_DOCUMENT_FORMATTING)
def formatting(ls: KokuhoServer, params: types.DocumentFormattingParams) -> list[types.TextEdit] | None:
    path = _path(params.text_document.uri)
    text = ls.ide.text_of(path)
    new = ls.ide.formatted(path)
    if text is None or new is None:
        return None
    if new == text:
        return []
    lines = ide.lines_of(text)
    whole = ide.Range(ide.Pos(0, 0), ide.Pos(len(lines) - 1, len(lines[-1])))
    return [types.TextEdit(range=ls.to_client(path, whole), new_text=new)]


@server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]))
def code_action(ls: KokuhoServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    path = _path(params.text_document.uri)
    rng = ide.Range(ls.from_client(path, params.range.start), ls.from_client(path, params.range.end))
    out = []
    for d in ls.ide.diagnostics(path):
        if not d.range.overlaps(rng):
            continue
        for fx in d.fixes:
            changes: dict[str, list[types.TextEdit]] = {}
            for e in fx.edits:
                changes.setdefault(uris.from_fs_path(e.path), []).append(
                    types.TextEdit(range=ls.to_client(e.path, e.range), new_text=e.new_text)
                )
            out.append(
                types.CodeAction(
                    title=fx.title,
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[_diagnostic(ls, path, d)],
                    is_preferred=fx.preferred,
                    edit=types.WorkspaceEdit(changes=changes),
                )
            )
    return out


def serve() -> None:
    """Serve one editor over stdin and stdout until it says exit."""
    server.start_io()
