"""What staff type -> what the rules and the data call it: a rule name or its Japanese label, a municipality's code or name.

One place for "did you mean": every option that takes a name (--columns, explain's NAME, sweep's
targets and measures, versions --names) accepts the name (`target_rate`) or the label a header shows
(`目標収納率`, compared after NFKC, so full- and half-width brackets are the same); a municipality is its
6-digit code or its name. What matches nothing is a usage error naming the closest name or label.
"""

from __future__ import annotations

import unicodedata

from . import ast
from .errors import UsageError, closest, did_you_mean, finding

VALUE_KINDS = ast.VALUE_KINDS  # items with a value: what a column or an explanation can show


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


def _labels(versions, kinds) -> dict[str, list[str]]:
    """Normalised label -> the names it labels (every piece of every version counts: R3's label of a table R6 overrides too)."""
    out: dict[str, list[str]] = {}
    for v in versions:
        for name, pieces in v.history.items():
            for p in pieces:
                label = getattr(p.item, "label", None)
                if label and isinstance(p.item, kinds):
                    names = out.setdefault(_norm(label), [])
                    if name not in names:
                        names.append(name)
    return out


def _names(versions, kinds) -> list[str]:
    return list(dict.fromkeys(n for v in versions for n, i in v.items.items() if isinstance(i, kinds)))


def label_of(versions, name: str) -> str | None:
    for v in versions:
        label = getattr(v.items.get(name), "label", None)
        if label:
            return label
    return None


def find_name(text: str, versions, kinds=VALUE_KINDS, *, extra=()) -> str | None:
    """The rule name `text` is, or labels, in any of the versions; None when nothing matches.

    `extra`: names accepted as they are (the key columns fiscal_year, code and name). A label of two
    different names is a usage error (`ambiguous-name`) that lists them.
    """
    t = text.strip()
    if t in extra or any(isinstance(v.items.get(t), kinds) for v in versions):
        return t
    names = _labels(versions, kinds).get(_norm(t), [])
    if len(names) > 1:
        shown = ", ".join(f"'{n}'" for n in names)
        raise UsageError(finding("ambiguous-name", f"'{t}' is the label of {shown}; give the name"))
    return names[0] if names else None


def suggestion(text: str, versions, kinds=VALUE_KINDS, *, extra=()) -> str:
    """'; did you mean 'target_rate'?' (a name) or '; did you mean '目標収納率' (target_rate)?' (a label), or ''."""
    names = list(extra) + _names(versions, kinds)
    labels = {}
    for v in versions:
        for name, pieces in v.history.items():
            for p in pieces:
                label = getattr(p.item, "label", None)
                if label and isinstance(p.item, kinds):
                    labels.setdefault(label, name)
    t = text.strip()
    by_norm = {_norm(c): c for c in list(labels) + names}
    close = closest(_norm(t), by_norm, 0.6)
    if close is None:
        return ""
    hit = by_norm[close]
    if hit in labels and hit not in names:
        return f"; did you mean '{hit}' ({labels[hit]})?"
    return f"; did you mean '{hit}'?"


def resolve_name(text: str, versions, *, code: str, message: str, kinds=VALUE_KINDS, extra=()) -> str:
    """find_name, or a usage error `code: message; did you mean ...`."""
    name = find_name(text, versions, kinds, extra=extra)
    if name is None:
        raise UsageError(finding(code, message + suggestion(text, versions, kinds, extra=extra)))
    return name


def resolve_names(texts, versions, *, code: str, message, kinds=VALUE_KINDS, extra=()) -> list[str]:
    """Each text resolved (message: a function of the text giving the error's message)."""
    return [resolve_name(t, versions, code=code, message=message(t), kinds=kinds, extra=extra) for t in texts]


# ---- columns: the one unknown-column finding --------------------------------------------------------------


def no_column(version, text: str) -> str:
    return f"version {version.id} has no definition '{text}'"


def resolve_columns(texts, version, *, extra=()) -> list[str]:
    """Names or labels of the version's values (--columns, --totals, --target) -> the names; else `unknown-column`."""
    return resolve_names(texts, [version], code="unknown-column", message=lambda t: no_column(version, t), extra=extra)


def unknown_column(version, name: str) -> UsageError:
    """`unknown-column` for a name (not a label) that is no value of the version, with the closest value's name."""
    values = [n for n, i in version.items.items() if hasattr(i, "unit")]
    return UsageError(finding("unknown-column", no_column(version, name) + did_you_mean(name, values, 0.6)))


# ---- municipalities ------------------------------------------------------------------------------


def split_list(texts) -> list[str]:
    """Repeated options and comma lists (',' '，' or '、') -> the items, in order, each once."""
    if texts is None:
        return []
    if isinstance(texts, str):
        texts = [texts]
    out: list[str] = []
    for text in texts:
        for part in text.replace("、", ",").replace("，", ",").split(","):
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return out


def find_municipality(data, text: str) -> int:
    """The index of a municipality in the data by its code or its name; a usage error with the closest one."""
    t = unicodedata.normalize("NFKC", text).strip()
    index = data.index_of(t)
    if index is None:
        keys = [m.code for m in data.municipalities] + [m.name for m in data.municipalities]
        hint = did_you_mean(t, keys, 0.6, otherwise="; give a 6-digit code like 131016 or a name like 千代田区")
        raise UsageError(finding("unknown-municipality", f"no municipality '{text.strip()}' in the data{hint}"))
    return index


def find_municipalities(data, texts) -> tuple[int, ...]:
    """-m / --municipality, repeatable, each a code, a name or a comma list of them -> indices in code order, each once."""
    found = {find_municipality(data, t) for t in split_list(texts)}
    return tuple(sorted(found))
