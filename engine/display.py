"""Values and the tool's own words as people read them, in Japanese (ja) or English (en).

Display tables (table, markdown, the report, workbooks' text) show a rule's values as its
`labels` clause names them (docs/language.md: `labels "none" = "赤字なし", ...`; `labels true =
"達成", false = "未達成"`), a true/false value without labels as ○/×, a version's status as
施行中/改定案/決定, and the words of a rule comparison (区分表, 区分1, 変更なし) in Japanese. With
`en` they are the values themselves (true/false, "none") and English words. Machine outputs
(CSV cells, JSON values) always keep the values the rules produce. The reason of an undefined
value is shown the same way: in Japanese (templates/reason-text.json) in display tables, as the
evaluator wrote it in English in CSV and JSON.
"""

from __future__ import annotations

import functools
import json
import re
from fractions import Fraction
from pathlib import Path

from .values import Undefined, format_value, grouped, is_undef
from .years import FiscalYear, YearFormatError, parse_period

LANGS = ("ja", "en")
TRUTH = {True: "○", False: "×"}
STATUS = {"current": "施行中", "proposed": "改定案", "adopted": "決定"}

# The words of a rule comparison (kokuho diff --rules-only, the workbook's 規則の比較 sheet).
RULE_WORDS = {
    "table": "区分表",
    "schedule": "年度別の値",
    "definition": "定義",
    "input": "入力",
    "meta": "名称・根拠・適用期間",
    "summary": "集計の構成",
    "same": "変更なし",
    "changed": "変更",
    "added": "追加",
    "removed": "削除",
    "bounds": "範囲",
    "result": "結果",
    "wording": "文言",
    "in force": "適用",
    "title": "題名",
    "status": "状態",
    "period": "計画期間",
    "basis": "根拠法令",
    "cite": "根拠",
    "label": "名称",
    "effective": "適用期間",
    "bands": "区分別の集計",
    "total": "合計",
    "tally": "件数",
    "show": "値",
    "columns": "列",
    "screen": "画面の列",
}


def unit_suffix(unit: str) -> str:
    return {"percent": "%", "pp": "pp", "yen": "円"}.get(unit, "")


def format_display(v, unit: str, *, undefined: str = "—") -> str:
    """For tables read by people: 98.10%, 1,234,567円, +0.30pp."""
    if unit in ("yen", "count"):  # most cells of a levy table are whole yen: no decimal rendering needed
        t = type(v)
        if t is int or (t is Fraction and v.denominator == 1):
            return f"{grouped(int(v))}円" if unit == "yen" else grouped(int(v))
    if v is None or type(v) is Undefined:
        return undefined
    text = format_value(v, unit)
    if unit in ("yen", "count") and not isinstance(v, (bool, str)):
        whole, _, frac = text.partition(".")
        sign = "-" if whole.startswith("-") else ""
        whole = grouped(int(whole.lstrip("-")))
        text = sign + whole + (f".{frac}" if frac else "")
    return text + unit_suffix(unit) if not isinstance(v, (bool, str)) and unit != "year" else text


def labels_of(item) -> dict:
    """The display labels a rule gives its values (value -> label), empty when it gives none."""
    return dict(getattr(item, "labels", None) or ())


def value_text(v, item, *, lang: str = "ja", undefined: str = "—") -> str:
    """One value of an item for a display table: 98.10%, 1,234,567円, ○, 赤字なし (ja) or true, none (en)."""
    unit = getattr(item, "unit", "text")
    if lang == "ja" and v is not None and not is_undef(v) and isinstance(v, (bool, str)):
        labels = labels_of(item)
        if isinstance(v, bool):
            return labels.get(v, TRUTH[v])
        return labels.get(v, v)
    return format_display(v, unit, undefined=undefined)


def status_text(status: str | None, lang: str = "ja") -> str:
    if status is None:
        return "状態なし" if lang == "ja" else "no status"
    return STATUS.get(status, status) if lang == "ja" else status


def rule_word(word: str, lang: str = "ja") -> str:
    """A word of the rule comparison: 'band 3' -> '区分3', 'bounds, result' -> '範囲・結果', 'not in force in R3' -> 'R3 では適用外'."""
    if lang != "ja" or not word:
        return word
    m = re.fullmatch(r"band (\d+)", word)
    if m:
        return f"区分{m.group(1)}"
    m = re.fullmatch(r"not in force in (\S+)", word)
    if m:
        return f"{m.group(1)} では適用外"
    if ", " in word:
        return "・".join(rule_word(w, lang) for w in word.split(", "))
    return RULE_WORDS.get(word, word)


# ---- undefined reasons ----------------------------------------------------------------------

REASON_FILE = Path(__file__).resolve().parent / "templates" / "reason-text.json"
# What each field of a reason's English pattern matches; the text around the fields is literal.
_REASON_FIELDS = {
    "fy": r"FY\d{4}(?: \([RH]\d+\))?",
    "covers": r".+",
    "muni": r".+?",
    "name": r"[^\s']+",
    "label": r".+?",
    "input": r".+?",
    "version": r"\S+?",
    "key": r".+?",
}


@functools.cache
def _reason_patterns() -> list[tuple[re.Pattern, str]]:
    out = []
    for entry in json.loads(REASON_FILE.read_text(encoding="utf-8"))["reasons"]:
        parts = re.split(r"\{(\w+)\}", entry["en"])  # literal, field, literal, field, ...
        regex = "".join(re.escape(x) if i % 2 == 0 else f"(?P<{x}>{_REASON_FIELDS[x]})" for i, x in enumerate(parts))
        out.append((re.compile(regex), entry["ja"]))
    return out


def version_labels(*versions) -> dict[str, str]:
    """Each name with a label in the versions -> the label, a later version's winning (for reason_text)."""
    return {name: item.label for v in versions for name, item in v.items.items() if getattr(item, "label", None)}


def reason_text(reason: str, lang: str = "ja", labels=None) -> str:
    """An undefined value's reason as a display shows it: in English as written (en), in Japanese
    (ja) by the first template of templates/reason-text.json matching it whole, names shown by
    their labels (labels: name -> label). A rule's own text matches no template and stays as is."""
    if lang != "ja":
        return reason
    matched = _matched_reason(reason)
    if matched is None:
        return reason
    ja, fields = matched
    labels = labels or {}
    return ja.format(**{k: _reason_field(k, v, labels) for k, v in fields})


@functools.lru_cache(maxsize=1 << 16)
def _matched_reason(reason: str) -> tuple[str, tuple] | None:
    """The Japanese template of the first pattern matching the reason whole, and the fields it read: a reason
    shared by many values (every year, every column of a municipality) is matched once."""
    for regex, ja in _reason_patterns():
        m = regex.fullmatch(reason)
        if m:
            return ja, tuple(m.groupdict().items())
    return None


MUNI_MARK = "\x00"  # stands for the municipality while a reason around one is translated


def reason_template(before: str, after: str, lang: str = "ja", labels=None) -> tuple[str, str]:
    """A reason written around a municipality ('no FY2026 collection rate for ', '') in a display's
    language, as the text (before, after) the municipality."""
    shown = reason_text(f"{before}{MUNI_MARK}{after}", lang, labels)
    head, mark, tail = shown.partition(MUNI_MARK)
    return (head, tail) if mark else (before, after)


def known_reason(reason: str) -> bool:
    """Whether a reason has a Japanese template (the text of a rule's own `undefined` has none)."""
    return _matched_reason(reason) is not None


def _reason_field(field: str, text: str, labels) -> str:
    if field == "fy":
        return FiscalYear(int(text[2:6])).japanese
    if field == "covers":
        if text == "every year":
            return "全年度"
        try:
            return parse_period(text.split(" (")[0], allow_open=True).japanese
        except YearFormatError:
            return text
    if field == "name":
        return labels.get(text, text)
    if field == "input":
        return labels.get(text.replace(" ", "_"), text)
    return text
