"""The Simplified Chinese catalog: complete, compiled, covering every marked string, and actually used.

Pure Python (no GNU gettext needed): a small .po reader, a small .mo reader, `ast` for the Python sources and
Django's own `templatize` for the templates. After adding or changing a marked string, run

    .venv/bin/python manage.py makemessages -l zh_Hans --ignore=.venv --ignore=var --ignore=tests --ignore=scripts
    (translate the new entries in locale/zh_Hans/LC_MESSAGES/django.po)
    .venv/bin/python manage.py compilemessages -l zh_Hans
"""

from __future__ import annotations

import ast
import fnmatch
import io
import re
import struct
import tokenize
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

BASE_DIR = Path(settings.BASE_DIR)
PO_PATH = BASE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO_PATH = PO_PATH.with_suffix(".mo")

# The same places `makemessages --ignore=.venv --ignore=var --ignore=tests --ignore=scripts` skips, plus its
# default ignore patterns (hidden directories, editor backups, bytecode).
IGNORED_DIRS = {".venv", "var", "tests", "scripts", "__pycache__", "node_modules", "locale", "CVS"}
IGNORED_FILE_PATTERNS = ["*~", "*.pyc"]

REMAKE_HINT = (
    "run `manage.py makemessages -l zh_Hans --ignore=.venv --ignore=var --ignore=tests --ignore=scripts`, "
    "translate the new entries and run `manage.py compilemessages -l zh_Hans`"
)


# --- .po reader ---------------------------------------------------------------------------------------------

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def _po_unquote(quoted: str) -> str:
    body = quoted.strip()
    assert body.startswith('"') and body.endswith('"'), f"not a PO string: {quoted!r}"
    return re.sub(
        r"\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)",
        lambda m: (
            chr(int(m[1][1:], 16))
            if m[1][0] == "x"
            else chr(int(m[1], 8))
            if m[1][0] in "01234567"
            else _ESCAPES.get(m[1], m[1])
        ),
        body[1:-1],
    )


@dataclass
class PoEntry:
    line: int
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    references: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.msgctxt, self.msgid)

    @property
    def translated(self) -> bool:
        return bool(self.msgstr) and all(self.msgstr.values())

    @property
    def fuzzy(self) -> bool:
        return "fuzzy" in self.flags

    def where(self) -> str:
        return f"django.po:{self.line} {self.msgid!r}" + (
            f" ({self.references[0]})" if self.references else ""
        )


_KEYWORD_RE = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")\s*$')


def parse_po(path: Path) -> list[PoEntry]:
    """Every live entry of a .po file, header included (msgid ""). Obsolete (#~) entries are skipped.

    Does not rely on blank lines between entries (Django's makemessages leaves none after the header).
    """
    entries: list[PoEntry] = []
    current: PoEntry | None = None
    target: tuple[str, int | None] | None = None
    in_msgstr = False

    def start(lineno: int) -> PoEntry:
        nonlocal current, in_msgstr, target
        if current is not None:
            entries.append(current)
        current, in_msgstr, target = PoEntry(line=lineno), False, None
        return current

    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            if current is not None:
                entries.append(current)
            current, in_msgstr, target = None, False, None
            continue
        if line.startswith("#~"):  # obsolete entry: not part of the catalog
            continue
        if line.startswith("#"):
            if current is None or in_msgstr:
                start(lineno)
            if line.startswith("#,"):
                current.flags.update(flag.strip() for flag in line[2:].split(",") if flag.strip())
            elif line.startswith("#:"):
                current.references.extend(line[2:].split())
            continue
        match = _KEYWORD_RE.match(line)
        if match:
            keyword, index, value = match.groups()
            if current is None or (in_msgstr and not keyword.startswith("msgstr")):
                start(lineno)
            if keyword.startswith("msgstr"):
                in_msgstr = True
                target = ("msgstr", int(index) if index is not None else 0)
                current.msgstr[target[1]] = _po_unquote(value)
            else:
                target = (keyword, None)
                setattr(current, keyword, _po_unquote(value))
                if keyword == "msgid":
                    current.line = lineno
            continue
        assert line.startswith('"') and current is not None and target is not None, (
            f"{path.name}:{lineno}: cannot parse {raw!r}"
        )
        if target[0] == "msgstr":
            current.msgstr[target[1]] += _po_unquote(line)
        else:
            setattr(current, target[0], getattr(current, target[0]) + _po_unquote(line))
    if current is not None:
        entries.append(current)
    return [entry for entry in entries if entry.msgstr or entry.msgid]


def po_header(entries: list[PoEntry]) -> tuple[PoEntry, dict[str, str]]:
    header = next(entry for entry in entries if entry.msgid == "" and entry.msgctxt is None)
    fields = {}
    for line in header.msgstr.get(0, "").splitlines():
        name, _sep, value = line.partition(":")
        fields[name.strip()] = value.strip()
    return header, fields


def po_messages(entries: list[PoEntry]) -> list[PoEntry]:
    return [entry for entry in entries if entry.msgid != "" or entry.msgctxt is not None]


# --- .mo reader -----------------------------------------------------------------------------------------------


def parse_mo(path: Path) -> dict[str, str]:
    """The raw catalog of a GNU .mo file: key ("ctxt\\x04msgid[\\x00plural]") -> msgstr ("\\x00"-joined forms)."""
    data = path.read_bytes()
    magic = struct.unpack("<I", data[:4])[0]
    order = "<" if magic == 0x950412DE else ">"
    assert struct.unpack(order + "I", data[:4])[0] == 0x950412DE, f"{path} is not a .mo file"
    _revision, count, originals, translations = struct.unpack(order + "4I", data[4:20])
    catalog = {}
    for i in range(count):
        olen, ooff = struct.unpack(order + "2I", data[originals + 8 * i : originals + 8 * i + 8])
        tlen, toff = struct.unpack(order + "2I", data[translations + 8 * i : translations + 8 * i + 8])
        catalog[data[ooff : ooff + olen].decode("utf-8")] = data[toff : toff + tlen].decode("utf-8")
    return catalog


def mo_key(entry: PoEntry) -> str:
    key = entry.msgid if entry.msgid_plural is None else f"{entry.msgid}\x00{entry.msgid_plural}"
    return key if entry.msgctxt is None else f"{entry.msgctxt}\x04{key}"


def mo_value(entry: PoEntry) -> str:
    return "\x00".join(entry.msgstr[index] for index in sorted(entry.msgstr))


# --- What the sources mark for translation --------------------------------------------------------------------


@dataclass(frozen=True)
class Marked:
    where: str
    msgid: str
    msgctxt: str | None = None
    msgid_plural: str | None = None


# name -> (context argument index or None, msgid index, plural index or None); what makemessages tells xgettext.
GETTEXT_FUNCTIONS = {
    "_": (None, 0, None),
    "gettext": (None, 0, None),
    "gettext_lazy": (None, 0, None),
    "gettext_noop": (None, 0, None),
    "ngettext": (None, 0, 1),
    "ngettext_lazy": (None, 0, 1),
    "pgettext": (0, 1, None),
    "pgettext_lazy": (0, 1, None),
    "npgettext": (0, 1, 2),
    "npgettext_lazy": (0, 1, 2),
}
# What xgettext recognises by name; a string marked through any other alias never reaches the catalog.
XGETTEXT_NAMES = set(GETTEXT_FUNCTIONS)


def _walk(suffixes: tuple[str, ...]):
    for path in sorted(BASE_DIR.rglob("*")):
        relative = path.relative_to(BASE_DIR)
        if any(part in IGNORED_DIRS or part.startswith(".") for part in relative.parts[:-1]):
            continue
        if not path.is_file() or not path.name.endswith(suffixes) or path.name.startswith("."):
            continue
        if any(fnmatch.fnmatch(path.name, pattern) for pattern in IGNORED_FILE_PATTERNS):
            continue
        yield path, relative


def _gettext_aliases(tree: ast.Module) -> dict[str, str]:
    """`from django.utils.translation import gettext_lazy as tr` -> {"tr": "gettext_lazy"}."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("django.utils.translation"):
            for alias in node.names:
                if alias.name in GETTEXT_FUNCTIONS:
                    aliases[alias.asname or alias.name] = alias.name
    return aliases


def _const_str(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def marked_in_python() -> list[Marked]:
    found = []
    for path, relative in _walk((".py",)):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(relative))
        aliases = _gettext_aliases(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else None
            )
            if name is None:
                continue
            if isinstance(func, ast.Name) and name in aliases:
                function = aliases[name]
            elif name in GETTEXT_FUNCTIONS:
                function = name
            else:
                continue
            ctx_index, msgid_index, plural_index = GETTEXT_FUNCTIONS[function]
            if len(node.args) <= max(i for i in (ctx_index, msgid_index, plural_index) if i is not None):
                continue
            msgid = _const_str(node.args[msgid_index])
            if msgid is None:
                continue  # a variable or an expression: nothing to extract (f-strings are never translatable)
            found.append(
                Marked(
                    where=f"{relative}:{node.lineno}",
                    msgid=msgid,
                    msgctxt=_const_str(node.args[ctx_index]) if ctx_index is not None else None,
                    msgid_plural=_const_str(node.args[plural_index]) if plural_index is not None else None,
                )
            )
    return found


def marked_in_templates() -> list[Marked]:
    """Django's own templatize() turns {% translate %}, {% blocktranslate %} and _("...") into gettext calls."""
    from django.utils.translation.template import templatize

    found = []
    for path, relative in _walk((".html", ".txt")):
        if "templates" not in relative.parts:
            continue
        source = templatize(path.read_text(encoding="utf-8"), origin=str(relative))
        tokens = [
            tok
            for tok in tokenize.generate_tokens(io.StringIO(source).readline)
            if tok.type
            not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT)
        ]
        for i, tok in enumerate(tokens[:-1]):
            if (
                tok.type != tokenize.NAME
                or tok.string not in GETTEXT_FUNCTIONS
                or tokens[i + 1].string != "("
            ):
                continue
            args, j = [], i + 2
            while j < len(tokens) and tokens[j].string != ")":
                if tokens[j].type == tokenize.STRING:
                    args.append(ast.literal_eval(tokens[j].string))
                elif tokens[j].string != ",":
                    args.append(None)
                j += 1
            ctx_index, msgid_index, plural_index = GETTEXT_FUNCTIONS[tok.string]
            if len(args) <= msgid_index or not isinstance(args[msgid_index], str):
                continue
            found.append(
                Marked(
                    where=f"{relative} (templatized line {tok.start[0]})",
                    msgid=args[msgid_index],
                    msgctxt=args[ctx_index] if ctx_index is not None else None,
                    msgid_plural=args[plural_index] if plural_index is not None else None,
                )
            )
    return found


# --- The tests --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def po_entries() -> list[PoEntry]:
    assert PO_PATH.exists(), f"{PO_PATH} is missing: {REMAKE_HINT}"
    return parse_po(PO_PATH)


def test_header_declares_simplified_chinese_with_one_plural_form(po_entries):
    header, fields = po_header(po_entries)
    assert not header.fuzzy, "the header is still marked fuzzy (remove '#, fuzzy' above msgid \"\")"
    assert fields.get("Language") == "zh_Hans"
    assert re.sub(r"\s+", " ", fields.get("Plural-Forms", "")).strip() == "nplurals=1; plural=0;"
    assert fields.get("Content-Type", "").lower().replace(" ", "") == "text/plain;charset=utf-8"


def test_catalog_is_complete_nothing_untranslated_or_fuzzy(po_entries):
    messages = po_messages(po_entries)
    assert messages, "the catalog has no messages"
    untranslated = [entry.where() for entry in messages if not entry.translated]
    fuzzy = [entry.where() for entry in messages if entry.fuzzy]
    assert not untranslated, f"{len(untranslated)} untranslated entries:\n" + "\n".join(untranslated)
    assert not fuzzy, (
        f"{len(fuzzy)} fuzzy entries (check the translation, then drop the flag):\n" + "\n".join(fuzzy)
    )


def test_catalog_has_no_duplicate_entries(po_entries):
    duplicates = [key for key, n in Counter(entry.key for entry in po_messages(po_entries)).items() if n > 1]
    assert not duplicates, f"duplicate msgids: {duplicates}"


_PLACEHOLDER_RE = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[sdifrxXoeEgGcab%]")
_TAG_RE = re.compile(r"</?[a-zA-Z][^>]*>")


def test_translations_keep_every_placeholder_and_html_tag(po_entries):
    problems = []
    for entry in po_messages(po_entries):
        if not entry.translated:
            continue  # reported by the completeness test
        for source, translation_ in [
            (entry.msgid, entry.msgstr[0]),
            *(
                (entry.msgid_plural, text)
                for index, text in entry.msgstr.items()
                if index and entry.msgid_plural
            ),
        ]:
            if "python-format" in entry.flags:
                want, got = (
                    Counter(_PLACEHOLDER_RE.findall(source)),
                    Counter(_PLACEHOLDER_RE.findall(translation_)),
                )
                if want != got:
                    problems.append(f"{entry.where()}: placeholders {dict(want)} became {dict(got)}")
            if Counter(_TAG_RE.findall(source)) != Counter(_TAG_RE.findall(translation_)):
                problems.append(f"{entry.where()}: HTML tags differ in {translation_!r}")
    assert not problems, "\n".join(problems)


def test_compiled_mo_is_up_to_date_with_the_po(po_entries):
    assert MO_PATH.exists(), f"{MO_PATH} is missing: run `manage.py compilemessages -l zh_Hans`"
    compiled = parse_mo(MO_PATH)
    compiled.pop("", None)  # the header
    expected = {
        mo_key(entry): mo_value(entry)
        for entry in po_messages(po_entries)
        if entry.translated and not entry.fuzzy
    }
    missing = sorted(set(expected) - set(compiled))
    stale = sorted(key for key in set(expected) & set(compiled) if expected[key] != compiled[key])
    extra = sorted(set(compiled) - set(expected))
    assert not (missing or stale or extra), (
        "django.mo does not match django.po; run `manage.py compilemessages -l zh_Hans`.\n"
        f"missing from .mo: {missing[:20]}\nstale in .mo: {stale[:20]}\nnot in .po: {extra[:20]}"
    )


def _not_in_catalog(marked: list[Marked], po_entries: list[PoEntry]) -> list[str]:
    catalog = {entry.key: entry for entry in po_messages(po_entries)}
    problems = []
    for item in marked:
        entry = catalog.get((item.msgctxt, item.msgid))
        if entry is None:
            context = f" (context {item.msgctxt!r})" if item.msgctxt is not None else ""
            problems.append(f"{item.where}: {item.msgid!r}{context}")
        elif item.msgid_plural is not None and entry.msgid_plural != item.msgid_plural:
            problems.append(f"{item.where}: plural {item.msgid_plural!r} differs from the catalog's")
    return problems


def test_every_string_marked_in_python_is_in_the_catalog(po_entries):
    marked = marked_in_python()
    assert marked, "no marked strings found: is BASE_DIR right?"
    missing = _not_in_catalog(marked, po_entries)
    assert not missing, f"{len(missing)} marked strings are not in django.po ({REMAKE_HINT}):\n" + "\n".join(
        missing
    )


def test_strings_are_marked_only_through_names_xgettext_knows():
    """`from django.utils.translation import gettext_lazy as tr` would hide every tr("...") from makemessages."""
    hidden = []
    for path, relative in _walk((".py",)):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(relative))
        for alias, function in _gettext_aliases(tree).items():
            if alias not in XGETTEXT_NAMES:
                hidden.append(f"{relative}: {function} imported as {alias!r}")
    assert not hidden, "makemessages cannot see strings marked through these aliases:\n" + "\n".join(hidden)


def test_every_string_marked_in_templates_is_in_the_catalog(po_entries):
    missing = _not_in_catalog(marked_in_templates(), po_entries)
    assert not missing, (
        f"{len(missing)} template strings are not in django.po ({REMAKE_HINT}):\n" + "\n".join(missing)
    )


def test_template_extraction_sees_translate_and_blocktranslate():
    """The extractor itself: the tags people actually write come out as the msgids makemessages makes."""
    from django.utils.translation.template import templatize

    source = templatize(
        '{% load i18n %}{% translate "Print" %}{% trans \'50% off\' context "sale" %}'
        "{% blocktranslate trimmed with n=count %}\n  Rows:\n  {{ n }}\n{% endblocktranslate %}"
    )
    assert "gettext(u'Print')" in source
    assert "pgettext(u'sale', u'50%% off')" in source
    assert "gettext(u'Rows: %(n)s')" in source


def test_chinese_is_what_people_see():
    from registry.choices import CentreStatus, Channel, Tier
    from registry.lifecycle import IllegalTransition

    with translation.override("zh-hans"):
        assert str(CentreStatus.DEREGISTERED.label) == "已注销"
        assert str(CentreStatus.ACTIVE.label) == "有效"
        assert [str(label) for label in Tier.labels] == ["部级", "省级", "地市级"]
        assert str(Channel.WEB.label) == "网页后台"
    with translation.override("en"):
        assert str(CentreStatus.DEREGISTERED.label) == "Deregistered"

    error = IllegalTransition(
        obj="西安市居民健康卡注册管理中心",
        current="deregistered",
        target="deregistered",
        allowed=["active"],
        labels=dict(CentreStatus.choices),
    )
    assert (
        error.message_zh
        == "无法将西安市居民健康卡注册管理中心从“已注销”变更为“已注销”；允许的下一状态：有效。"
    )
    assert error.message_en.startswith("Cannot change 西安市居民健康卡注册管理中心 from “Deregistered”")


def test_default_language_is_simplified_chinese():
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert translation.to_locale(settings.LANGUAGE_CODE) == PO_PATH.parent.parent.name
