"""The one export and print machinery: any rows + a column spec -> a streamed XLSX or a printable PDF.

Both formats state the title, the filters used and when/by whom the file was made. XLSX uses openpyxl's
write-only mode (memory stays flat however many rows); PDF embeds a CJK TrueType font and prints at most
HC_PDF_ROW_LIMIT rows (a printout of a million rows helps nobody; the sheet says so and points to XLSX).
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from django.http import FileResponse
from django.utils import timezone
from django.utils.translation import gettext as _

PDF_ROW_LIMIT = 5000
PROGRESS_EVERY = 1000


@dataclass(frozen=True)
class Column:
    """One column: a header and either a dotted attribute path ("region.full_name") or a callable(row)."""

    header: Any
    value: str | Callable[[Any], Any]
    width: int = 16

    def get(self, row: Any) -> Any:
        if callable(self.value):
            return self.value(row)
        current = row
        for part in self.value.split("."):
            if current is None:
                return None
            display = getattr(current, f"get_{part}_display", None)
            current = display() if callable(display) else getattr(current, part)
        return current


@dataclass
class Sheet:
    """What one export writes: the rows, their columns, and what a reader needs to trust the file."""

    title: str
    columns: Sequence[Column]
    rows: Iterable[Any]
    filters: list[tuple[str, str]] = field(default_factory=list)
    generated_by: str = ""
    total: int | None = None
    generated_at: dt.datetime = field(default_factory=timezone.now)

    def iter_rows(self) -> Iterable[Any]:
        if isinstance(self.rows, QuerySet):
            return self.rows.iterator(chunk_size=2000)
        return self.rows

    @property
    def filters_text(self) -> str:
        if not self.filters:
            return _("Filters: none (all rows in your scope)")
        return _("Filters: %(filters)s") % {
            "filters": "; ".join(f"{label} = {value}" for label, value in self.filters)
        }

    @property
    def generated_text(self) -> str:
        when = timezone.localtime(self.generated_at).strftime("%Y-%m-%d %H:%M:%S")
        return _("Generated %(when)s by %(who)s") % {"when": when, "who": self.generated_by or "-"}


def cell_value(value: Any) -> Any:
    """A value openpyxl and a reader both understand: local naive times, plain text for lazy strings."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.replace(tzinfo=None)
    if isinstance(value, (dt.date, int, float, decimal.Decimal)):
        return value
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    return str(value)


def text_value(value: Any) -> str:
    value = cell_value(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


Progress = Callable[[int], None]


def write_xlsx(sheet: Sheet, out: BinaryIO, progress: Progress | None = None) -> int:
    """Write the sheet as XLSX to `out`; returns the number of data rows."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet(title=_safe_sheet_title(sheet.title))
    for index, column in enumerate(sheet.columns, start=1):
        ws.column_dimensions[get_column_letter(index)].width = column.width
    ws.freeze_panes = "A6"
    title = WriteOnlyCell(ws, value=str(sheet.title))
    title.font = Font(bold=True, size=14)
    ws.append([title])
    ws.append([sheet.filters_text])
    ws.append([sheet.generated_text])
    ws.append([])
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    headers = []
    for column in sheet.columns:
        cell = WriteOnlyCell(ws, value=str(column.header))
        cell.font, cell.fill = bold, fill
        headers.append(cell)
    ws.append(headers)
    count = 0
    for row in sheet.iter_rows():
        ws.append([cell_value(column.get(row)) for column in sheet.columns])
        count += 1
        if progress and count % PROGRESS_EVERY == 0:
            progress(count)
    ws.append([])
    ws.append([_("Rows: %(count)s") % {"count": count}])
    workbook.save(out)
    if progress:
        progress(count)
    return count


def _safe_sheet_title(title: str) -> str:
    return re.sub(r"[\[\]\*\?/\\:]", " ", str(title))[:31] or "Sheet1"


@cache
def cjk_font_name() -> str:
    """Register the CJK TrueType font with reportlab once; returns its name."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    candidates = [settings.HC_PDF_FONT] if settings.HC_PDF_FONT else list(settings.HC_PDF_FONT_CANDIDATES)
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            pdfmetrics.registerFont(TTFont("HC-CJK", candidate, subfontIndex=0))
            return "HC-CJK"
    raise ImproperlyConfigured(
        "No CJK TrueType font for PDF printing: install fonts-wqy-microhei or set HC_PDF_FONT "
        "/ 缺少中文字体：请安装 fonts-wqy-microhei 或设置 HC_PDF_FONT"
    )


def write_pdf(sheet: Sheet, out: BinaryIO, progress: Progress | None = None) -> int:
    """Print the sheet to a landscape A4 PDF with the CJK font embedded; returns the rows printed."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

    font = cjk_font_name()
    title_style = ParagraphStyle("title", fontName=font, fontSize=15, leading=20, spaceAfter=4)
    meta_style = ParagraphStyle(
        "meta", fontName=font, fontSize=8.5, leading=12, textColor=colors.HexColor("#444444")
    )
    cell_style = ParagraphStyle("cell", fontName=font, fontSize=7.5, leading=9.5, wordWrap="CJK")
    head_style = ParagraphStyle("head", parent=cell_style, textColor=colors.white)

    page_size = landscape(A4)
    doc = SimpleDocTemplate(
        out,
        pagesize=page_size,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=14 * mm,
        title=str(sheet.title),
        author=sheet.generated_by or "",
    )
    usable = page_size[0] - 24 * mm
    total_width = sum(column.width for column in sheet.columns) or 1
    widths = [usable * column.width / total_width for column in sheet.columns]

    data = [[Paragraph(_escape(str(column.header)), head_style) for column in sheet.columns]]
    count = 0
    truncated = False
    for row in sheet.iter_rows():
        if count >= PDF_ROW_LIMIT:
            truncated = True
            break
        data.append([Paragraph(_escape(text_value(column.get(row))), cell_style) for column in sheet.columns])
        count += 1
        if progress and count % PROGRESS_EVERY == 0:
            progress(count)
    story = [
        Paragraph(_escape(str(sheet.title)), title_style),
        Paragraph(_escape(sheet.filters_text), meta_style),
        Paragraph(_escape(sheet.generated_text), meta_style),
    ]
    if truncated:
        note = _("Only the first %(limit)s rows are printed; export to Excel for all rows.") % {
            "limit": PDF_ROW_LIMIT
        }
        story.append(Paragraph(_escape(note), meta_style))
    story.append(Spacer(1, 4 * mm))
    table = LongTable(data, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#2F5597")),
                ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#999999")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#F2F2F2")]),
            ]
        )
    )
    story.append(table)
    story.append(Spacer(1, 3 * mm))
    story.append(Paragraph(_escape(_("Rows: %(count)s") % {"count": count}), meta_style))

    def footer(canvas, document):
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.drawRightString(page_size[0] - 12 * mm, 7 * mm, _("Page %(page)s") % {"page": document.page})
        canvas.drawString(12 * mm, 7 * mm, str(sheet.title))
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    if progress:
        progress(count)
    return count


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


WRITERS = {"xlsx": write_xlsx, "pdf": write_pdf}
CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def export_filename(title: str, fmt: str, when: dt.datetime | None = None) -> str:
    stamp = timezone.localtime(when or timezone.now()).strftime("%Y%m%d-%H%M%S")
    return f"{re.sub(r'[^\w\-]+', '_', str(title)).strip('_')}-{stamp}.{fmt}"


def export_response(sheet: Sheet, fmt: str) -> FileResponse:
    """Write to a temporary file (constant memory) and stream it back as a download."""
    if fmt not in WRITERS:
        raise ValueError(f"unknown export format {fmt!r}")
    handle = tempfile.TemporaryFile()
    WRITERS[fmt](sheet, handle)
    handle.seek(0)
    return FileResponse(
        handle,
        as_attachment=fmt == "xlsx",
        filename=export_filename(sheet.title, fmt, sheet.generated_at),
        content_type=CONTENT_TYPES[fmt],
    )


def write_document_pdf(
    out: BinaryIO,
    *,
    title: str,
    fields: Sequence[tuple[Any, Any]],
    signature_lines: Sequence[Any] = (),
    footer: str = "",
    subtitle: str = "",
) -> None:
    """Print one document (a receipt, a slip to sign) on portrait A4: a title, label/value rows, lines to sign.

    The same embedded CJK font and styles as the list printouts; plain layout, no images or codes, so any
    office printer renders it and text extraction finds every value.
    """
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = cjk_font_name()
    title_style = ParagraphStyle(
        "doc-title", fontName=font, fontSize=17, leading=24, alignment=1, spaceAfter=2
    )
    meta_style = ParagraphStyle(
        "doc-meta", fontName=font, fontSize=9, leading=13, alignment=1, textColor=colors.HexColor("#444444")
    )
    label_style = ParagraphStyle("doc-label", fontName=font, fontSize=10.5, leading=15, wordWrap="CJK")
    value_style = ParagraphStyle("doc-value", parent=label_style)
    sign_style = ParagraphStyle("doc-sign", fontName=font, fontSize=11, leading=16)
    foot_style = ParagraphStyle(
        "doc-foot", fontName=font, fontSize=8.5, leading=12, textColor=colors.HexColor("#444444")
    )

    page_size = A4
    doc = SimpleDocTemplate(
        out,
        pagesize=page_size,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=18 * mm,
        title=str(title),
    )
    usable = page_size[0] - 40 * mm
    story = [Paragraph(_escape(str(title)), title_style)]
    if subtitle:
        story.append(Paragraph(_escape(str(subtitle)), meta_style))
    story.append(Spacer(1, 6 * mm))
    rows = [
        [Paragraph(_escape(str(label)), label_style), Paragraph(_escape(text_value(value)), value_style)]
        for label, value in fields
    ]
    if rows:
        table = Table(rows, colWidths=[usable * 0.3, usable * 0.7])
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#888888")),
                    ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#F2F2F2")),
                    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                    ("TOPPADDING", (0, 0), (-1, -1), 5),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
                ]
            )
        )
        story.append(table)
    story.append(Spacer(1, 14 * mm))
    for line in signature_lines:
        story.append(Paragraph(_escape(str(line)), sign_style))
        story.append(Spacer(1, 10 * mm))
    if footer:
        story.append(Spacer(1, 4 * mm))
        story.append(Paragraph(_escape(str(footer)), foot_style))
    doc.build(story)
