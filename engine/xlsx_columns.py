"""Workbooks of many rows, written as sheet XML from whole columns (the report's workbook at 20,000 municipalities).

openpyxl makes a Python object per cell: a sheet of 60,000 rows and 60 columns takes it a
minute, even in its write-only mode. Here each column becomes its cells' XML with a few Arrow
string operations (as the CSV writer does), a year of rows at a time, streamed into the zip.
The package is the one openpyxl writes (workbook, styles, sheets, document properties), with
the same conventions as engine/xlsx.py's `workbook`: numbers as exact decimals with a number
format per column, a bold filled header row, frozen header and key columns, an autofilter,
column widths that count wide characters twice, fixed document and zip entry times (the same
sheets give the same bytes). Every text is an inline string cell: never a formula.

Small sheets (the summary, the rule comparison) pass rows of engine/xlsx_cells.py's cells (V) and are
written cell by cell with that module's helpers.
"""

from __future__ import annotations

import io
import re
import zipfile
from fractions import Fraction
from xml.sax.saxutils import escape

import attrs
import pyarrow as pa

from .cells import MAX_CELL_TEXT
from .columnar import arrow as A
from .xlsx_cells import V, cell_value, display_text, number_format, text_width

ZIP_TIME = (2000, 1, 1, 0, 0, 0)
FIXED_TIME = "2000-01-01T00:00:00Z"
MAX_WIDTH = 60
HEADER_FILL = "FFEEF2F7"
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # characters XML 1.0 cannot hold: shown as U+FFFD, as xlsx._text_cell does
_ILLEGAL_RE2 = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"


@attrs.frozen
class Column:
    """One column of a big sheet, for a chunk of rows: the cells' texts (null: an empty cell).

    kind: num (texts are exact decimals, fmt their number format), str, or bool (texts '1' / '0')."""

    kind: str
    texts: object  # pa.Array of strings
    fmt: str | None = None


@attrs.frozen
class BigSheet:
    """A sheet written from columns: header, the chunks of rows (each a list of Column), widths."""

    title: str
    header: tuple[str, ...]
    chunks: object  # an iterable of (row count, [Column]) made when the sheet is written
    rows: int  # data rows in all
    widths: tuple[int, ...]  # text width of each column (header included), before the margin
    frozen_columns: int = 0


@attrs.frozen
class SmallSheet:
    """A sheet of rows of engine/xlsx_cells.py cells (V, or plain values), written cell by cell."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple, ...]
    frozen_columns: int = 0


def column_letter(k: int) -> str:
    """1 -> A, 27 -> AA."""
    out = ""
    while k:
        k, r = divmod(k - 1, 26)
        out = chr(65 + r) + out
    return out


def text_xml(s: str) -> str:
    s = _ILLEGAL.sub("\ufffd", s)
    return escape(s if len(s) <= MAX_CELL_TEXT else s[: MAX_CELL_TEXT - 1] + "…")


class _Styles:
    """Cell formats: 0 plain, 1 the header, then one per number format in order of first use."""

    def __init__(self):
        self.formats: list[str] = []

    def xf(self, fmt: str | None) -> int:
        if not fmt:
            return 0
        if fmt not in self.formats:
            self.formats.append(fmt)
        return 2 + self.formats.index(fmt)

    def xml(self) -> str:
        nf = "".join(f'<numFmt numFmtId="{164 + k}" formatCode="{escape(f, {chr(34): "&quot;"})}"/>' for k, f in enumerate(self.formats))
        xfs = [
            '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>',
            '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1" applyAlignment="1">'
            '<alignment vertical="top"/></xf>',
        ]
        xfs += [
            f'<xf numFmtId="{164 + k}" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
            for k in range(len(self.formats))
        ]
        return (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            + (f'<numFmts count="{len(self.formats)}">{nf}</numFmts>' if self.formats else "")
            + '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
            '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
            '<fills count="3"><fill><patternFill/></fill><fill><patternFill patternType="gray125"/></fill>'
            f'<fill><patternFill patternType="solid"><fgColor rgb="{HEADER_FILL}"/><bgColor indexed="64"/></patternFill></fill></fills>'
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            f'<cellXfs count="{len(xfs)}">{"".join(xfs)}</cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
            "</styleSheet>"
        )


def _sheet_head(ncols: int, nrows: int, widths, frozen: int, header) -> str:
    last = f"{column_letter(max(1, ncols))}{nrows + 1}"
    top = f"{column_letter(frozen + 1)}2"
    if frozen:
        pane = (
            f'<pane xSplit="{frozen}" ySplit="1" topLeftCell="{top}" activePane="bottomRight" state="frozen"/>'
            f'<selection pane="topRight"/><selection pane="bottomLeft"/><selection pane="bottomRight" activeCell="{top}" sqref="{top}"/>'
        )
    else:
        pane = '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
    cols = "".join(
        f'<col min="{k}" max="{k}" width="{min(MAX_WIDTH, max(6, w + 2))}" customWidth="1"/>' for k, w in enumerate(widths, start=1)
    )
    head = "".join(
        f'<c r="{column_letter(k)}1" s="1" t="inlineStr"><is><t>{text_xml(h)}</t></is></c>' for k, h in enumerate(header, start=1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<dimension ref="A1:{last}"/><sheetViews><sheetView workbookViewId="0">{pane}</sheetView></sheetViews>'
        f'<sheetFormatPr baseColWidth="8" defaultRowHeight="15"/><cols>{cols}</cols>'
        f'<sheetData><row r="1">{head}</row>'
    )


def _sheet_tail(ncols: int, nrows: int) -> str:
    return f'</sheetData><autoFilter ref="A1:{column_letter(max(1, ncols))}{nrows + 1}"/></worksheet>'


def _small_rows(sheet: SmallSheet, styles: _Styles) -> tuple[str, list[int]]:
    """The rows' XML and the columns' text widths, with the workbooks' cell helpers (engine/xlsx_cells.py)."""
    widths = [text_width(h) for h in sheet.header]
    out = []
    for r, row in enumerate(sheet.rows, start=2):
        cells = []
        for k, cell in enumerate(row, start=1):
            v = (
                cell
                if isinstance(cell, V)
                else V(cell, "text" if not isinstance(cell, (int, Fraction)) or isinstance(cell, bool) else "count")
            )
            value = cell_value(v)
            if value is None:
                continue
            ref = f"{column_letter(k)}{r}"
            if isinstance(value, bool):
                cells.append(f'<c r="{ref}" t="b"><v>{int(value)}</v></c>')
            elif isinstance(value, str):
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text_xml(value)}</t></is></c>')
            else:
                s = styles.xf(number_format(v))
                cells.append(f'<c r="{ref}"{f" s={chr(34)}{s}{chr(34)}" if s else ""}><v>{value}</v></c>')
            widths[k - 1] = max(widths[k - 1], text_width(display_text(v)))
        out.append(f'<row r="{r}">{"".join(cells)}</row>')
    return "".join(out), widths


def _chunk_xml(columns: list[Column], first_row: int, count: int, styles: _Styles) -> bytes:
    """The XML of `count` rows from first_row on, built column by column with Arrow string functions."""
    import numpy as np

    rows = A.cast(A.array(np.arange(first_row, first_row + count, dtype=np.int64)), pa.string())
    cells = []
    for k, col in enumerate(columns, start=1):
        letter = column_letter(k)
        if col.kind == "num":
            s = styles.xf(col.fmt)
            style = f' s="{s}"' if s else ""
            xml = A.join(f'<c r="{letter}', rows, f'"{style}><v>', col.texts, "</v></c>")
        elif col.kind == "bool":
            xml = A.join(f'<c r="{letter}', rows, '" t="b"><v>', col.texts, "</v></c>")
        else:
            texts = col.texts
            if A.any_(A.matches(texts, _ILLEGAL_RE2)):
                texts = A.replace_regex(texts, _ILLEGAL_RE2, "\ufffd")
            if A.any_(A.call("greater", A.call("utf8_length", texts), pa.scalar(MAX_CELL_TEXT, pa.int32()))):  # rare: cut as text_xml does
                texts = pa.array(
                    [t if t is None or len(t) <= MAX_CELL_TEXT else t[: MAX_CELL_TEXT - 1] + "…" for t in texts.to_pylist()],
                    type=pa.string(),
                )
            texts = A.replace(A.replace(A.replace(texts, "&", "&amp;"), "<", "&lt;"), ">", "&gt;")
            xml = A.join(f'<c r="{letter}', rows, '" t="inlineStr"><is><t xml:space="preserve">', texts, "</t></is></c>")
        cells.append(A.fill_null(xml, ""))
    lines = A.join('<row r="', rows, '">', *cells, "</row>")
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    return bytes(memoryview(lines.buffers()[2])[int(offsets[0]) : int(offsets[-1])]) if len(lines) else b""


def write(sheets: list) -> bytes:
    """The sheets (SmallSheet or BigSheet) as .xlsx bytes; the same sheets give the same bytes."""
    styles = _Styles()  # filled as the sheets are written; styles.xml is written last
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:

        def put(name: str, data) -> None:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)

        names = []
        for k, sheet in enumerate(sheets, start=1):
            name = f"xl/worksheets/sheet{k}.xml"
            names.append(name)
            ncols = len(sheet.header)
            if isinstance(sheet, SmallSheet):
                body, widths = _small_rows(sheet, styles)
                put(
                    name,
                    _sheet_head(ncols, len(sheet.rows), widths, sheet.frozen_columns, sheet.header)
                    + body
                    + _sheet_tail(ncols, len(sheet.rows)),
                )
                continue
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            with z.open(info, "w", force_zip64=True) as out:
                out.write(_sheet_head(ncols, sheet.rows, sheet.widths, sheet.frozen_columns, sheet.header).encode("utf-8"))
                first = 2
                for count, columns in sheet.chunks:
                    if count:
                        out.write(_chunk_xml(columns, first, count, styles))
                    first += count
                out.write(_sheet_tail(ncols, sheet.rows).encode("utf-8"))
        titles = [s.title for s in sheets]
        put("[Content_Types].xml", _content_types(len(sheets)))
        put(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>'
            '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties" Target="docProps/app.xml"/>'
            "</Relationships>",
        )
        put(
            "docProps/app.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"><Application>kokuho</Application></Properties>',
        )
        put(
            "docProps/core.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:creator>kokuho</dc:creator>'
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{FIXED_TIME}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{FIXED_TIME}</dcterms:modified></cp:coreProperties>',
        )
        sheet_tags = "".join(f'<sheet name="{text_xml(t)}" sheetId="{k}" r:id="rId{k}"/>' for k, t in enumerate(titles, start=1))
        filters = "".join(
            f'<definedName name="_xlnm._FilterDatabase" localSheetId="{k}" hidden="1">\'{text_xml(s.title)}\'!$A$1:${column_letter(max(1, len(s.header)))}${_rows(s) + 1}</definedName>'
            for k, s in enumerate(sheets)
        )
        put(
            "xl/workbook.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f'<workbookPr/><bookViews><workbookView activeTab="0"/></bookViews><sheets>{sheet_tags}</sheets>'
            f'<definedNames>{filters}</definedNames><calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>',
        )
        rels = "".join(
            f'<Relationship Id="rId{k}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
            f'Target="worksheets/sheet{k}.xml"/>'
            for k in range(1, len(sheets) + 1)
        )
        rels += (
            f'<Relationship Id="rId{len(sheets) + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
            'Target="styles.xml"/>'
        )
        put(
            "xl/_rels/workbook.xml.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>',
        )
        put("xl/styles.xml", styles.xml())
    return buf.getvalue()


def _rows(sheet) -> int:
    return len(sheet.rows) if isinstance(sheet, SmallSheet) else sheet.rows


def _content_types(n: int) -> str:
    sheets = "".join(
        f'<Override PartName="/xl/worksheets/sheet{k}.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for k in range(1, n + 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        f"{sheets}"
        '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        '<Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
        "</Types>"
    )
