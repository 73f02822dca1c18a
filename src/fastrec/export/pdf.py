"""The PDF export: a summary report of a session (fpdf2).

Sections, in order: the session's metadata (server, user, connection, times, duration,
sizes, capture, recorder settings), the integrity verdict per part, the timeline of input
events (from the parts' events files, within the report's time range; "No input events
recorded." when there are none; the pauses, window titles and errors the recorder noted
in the metadata follow, as recorded), the
thumbnails at scene changes (:mod:`.thumbnails`), and the click heatmap of the report's
range with its statistics (:mod:`.heatmaps`) - a section only when there were clicks.

Invariants: everything shown is what the recorder stored (names and titles were redacted
when they were recorded; nothing is looked up again); untrusted text goes through
:func:`fastrec.printable.printable` (no control or bidi characters reach the page); the
text font is DejaVu Sans when the system has it (Debian fonts-dejavu-core: any script),
else the PDF core font with characters outside Latin-1 replaced by ``?``.  The report and
its pictures are made in memory; the file is written atomically (0600), sealed when the
output is (:mod:`.output`).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fastrec.export.events import session_events
from fastrec.export.heatmaps import heatmap_image, heatmap_stats
from fastrec.export.output import ExportOutput, as_output
from fastrec.export.progress import Progress, no_progress, scaled
from fastrec.export.source import SessionSource
from fastrec.export.thumbnails import DEFAULT_LIMIT, scene_changes
from fastrec.export.timerange import TimeRange
from fastrec.printable import printable

__all__ = ["PdfReport", "export_pdf"]

_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu",)
_COLUMNS = 3


@dataclass
class PdfReport:
    """What :func:`export_pdf` wrote."""

    path: Path
    thumbnails: int
    events: int
    notes: tuple[str, ...] = field(default=())


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _size(size: int) -> str:
    return f"{size / (1024 * 1024):.2f} MB" if size >= 1024 * 1024 else f"{size / 1024:.1f} kB"


class _Report:
    def __init__(self) -> None:
        from fpdf import FPDF

        self.pdf = FPDF(format="A4")
        self.pdf.set_auto_page_break(True, margin=15)
        self.pdf.set_margins(15, 15, 15)
        self.font, self.unicode = "Helvetica", False
        regular = next((Path(d) / "DejaVuSans.ttf" for d in _FONT_DIRS if (Path(d) / "DejaVuSans.ttf").is_file()),
                       None)
        if regular is not None:
            bold = regular.with_name("DejaVuSans-Bold.ttf")
            self.pdf.add_font("DejaVu", "", str(regular))
            self.pdf.add_font("DejaVu", "B", str(bold if bold.is_file() else regular))
            self.font, self.unicode = "DejaVu", True
        self.pdf.add_page()

    def text(self, value: object) -> str:
        shown = printable(str(value))
        return shown if self.unicode else shown.encode("latin-1", "replace").decode("latin-1")

    def heading(self, title: str, size: int = 13) -> None:
        self.pdf.set_font(self.font, "B", size)
        self.pdf.ln(2)
        self.pdf.cell(0, 8, self.text(title), new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_font(self.font, "", 9)

    def line(self, value: object, height: float = 5) -> None:
        self.pdf.multi_cell(0, height, self.text(value), new_x="LMARGIN", new_y="NEXT")

    def table(self, rows: list[tuple[str, ...]], widths: tuple[float, ...]) -> None:
        self.pdf.set_font(self.font, "", 8)
        with self.pdf.table(col_widths=widths, text_align="LEFT", line_height=4.5,
                            first_row_as_headings=True) as table:
            for row in rows:
                cells = table.row()
                for value in row:
                    cells.cell(self.text(value))
        self.pdf.set_font(self.font, "", 9)


def export_pdf(source: SessionSource, output: str | os.PathLike[str] | ExportOutput,
               time_range: TimeRange | None = None, *, thumbnails: int = DEFAULT_LIMIT,
               progress: Progress = no_progress) -> PdfReport:
    """Write the report of ``source`` (thumbnails and notes of ``time_range`` when given) to
    ``output`` (a path or an :class:`~fastrec.export.output.ExportOutput`); the PDF is made
    in memory, pictures included."""
    span = time_range or TimeRange(source.start, source.end)
    pictures = scene_changes(source, span, limit=thumbnails, progress=scaled(progress, 0.0, 0.9))
    progress(0.9, "writing the report")
    first = source.parts[0].meta
    connection = first.connection_info
    report = _Report()
    pdf = report.pdf
    report.heading("Session recording report", 16)
    report.line(f"Session {source.session_id}")
    if time_range is not None:
        report.line(f"Range: {_when(span.start)} to {_when(span.end)} ({span.seconds:.1f} s)")

    report.heading("Metadata")
    frames = sum(p.meta.frames.encoded for p in source.parts)
    settings = first.recorder_settings
    rows = [("Field", "Value"),
            ("Server", connection.name or "-"), ("Server address", connection.ip or "-"),
            ("User", connection.user or "-"), ("Connection type", connection.connection_type or "-"),
            ("Connection code", "-" if connection.con_codigo is None else str(connection.con_codigo)),
            ("Start", _when(source.start)), ("End", _when(source.end)),
            ("Duration", f"{(source.end - source.start).total_seconds():.1f} s"),
            ("Parts", str(len(source.parts))), ("Size", _size(source.size_bytes)), ("Frames encoded", str(frames)),
            ("Capture", f"{first.capture.mode or '-'}, region {list(first.capture.region or []) or '-'}, "
                        f"encoded {'x'.join(map(str, first.capture.output_size or ())) or '-'}"),
            ("Recorder settings", f"fps {settings.fps}, quality (CRF) {settings.quality}, "
                                  f"scale {settings.resolution_scale}")]
    report.table(rows, (45, 135))

    report.heading("Integrity")
    report.line("Chain intact: every part matches its SHA-256 and the hash chain." if source.report.ok
                else "PROBLEMS: " + source.report.summary)
    rows = [("Part", "File", "Status", "Size", "SHA-256", "Problems")]
    for part in source.parts:
        check = part.check
        rows.append((str(part.part), part.meta.file.name, check.status if check else "missing",
                     _size(part.meta.file.size_bytes or 0), (part.meta.file.sha256 or "-")[:12],
                     "; ".join([*(check.problems if check else ()), *(check.notes if check else ())]) or "-"))
    report.table(rows, (10, 60, 17, 15, 25, 53))

    report.heading("Timeline of events")
    events = session_events(source.directory, source.session_id)
    shown = [e for e in events.events if _within(e.get("at"), span)]
    if not shown:
        report.line("No input events recorded.")
    else:
        rows = [("Time", "Event", "Details")]
        rows += [(_when(datetime.fromisoformat(e["at"])), str(e.get("kind", "-")),
                  ", ".join(f"{k}={v}" for k, v in e.items() if k not in ("at", "kind", "t"))) for e in shown]
        report.table(rows, (45, 30, 105))
    for problem in events.problems:
        report.line(f"Events skipped: {problem}")
    noted = _recorder_notes(source, span)
    if noted:
        report.line("Noted by the recorder:")
        report.table([("Time", "What", "Details"), *noted], (45, 30, 105))

    report.heading("Thumbnails at scene changes")
    if not pictures:
        report.line("No frame in this range.")
    width = (pdf.epw - (_COLUMNS - 1) * 4) / _COLUMNS
    for number, picture in enumerate(pictures):
        column = number % _COLUMNS
        if column == 0:
            height = width * picture.image.height / picture.image.width
            if pdf.get_y() + height + 8 > pdf.page_break_trigger:
                pdf.add_page()
            top = pdf.get_y()
        x = pdf.l_margin + column * (width + 4)
        pdf.image(picture.image, x=x, y=top, w=width)
        pdf.set_xy(x, top + width * picture.image.height / picture.image.width + 0.5)
        pdf.set_font(report.font, "", 7)
        pdf.cell(width, 4, report.text(f"{_when(picture.at)} (part {picture.part})"))
        if column == _COLUMNS - 1 or number == len(pictures) - 1:
            pdf.set_xy(pdf.l_margin, top + width * picture.image.height / picture.image.width + 6)

    if heatmap_stats(source, time_range).clicks.total:
        drawn = heatmap_image(source, time_range, "clicks")
        clicks = drawn.stats.clicks
        report.heading("Click heatmap")
        report.line(f"{clicks.total} click(s) at {clicks.points} point(s) (1 % x 1 % of the screen); at most "
                    f"{clicks.max_per_point} at one point, {clicks.average_per_point:.2f} per point on average. "
                    + (f"Picture: the frame of {_when(drawn.picture_at)}." if drawn.picture_at
                       else "No frame could be read: drawn on a blank picture."))
        width = min(pdf.epw, 120 * drawn.width / drawn.height)  # at most 120 mm high: it fits a page
        pdf.image(io.BytesIO(drawn.png), w=width)

    target = as_output(output)
    target.write_bytes(bytes(pdf.output()))
    progress(1.0, f"{len(pictures)} thumbnail(s) in {target.path.name}")
    return PdfReport(target.path, len(pictures), len(shown))


def _within(at: object, span: TimeRange) -> bool:
    try:
        when = datetime.fromisoformat(str(at))
    except ValueError:
        return False
    return span.start <= when <= span.end


def _recorder_notes(source: SessionSource, span: TimeRange) -> list[tuple[str, ...]]:
    """Pauses and window titles (with their times) and errors (at the part's end) from the
    parts' metadata, within ``span``, in time order."""
    from datetime import timedelta

    found: list[tuple[datetime, str, str]] = []
    for part in source.parts:
        meta: Any = part.meta
        for kind, notes in (("paused", meta.capture.pauses), ("window", meta.capture.window_titles)):
            found += [(part.start + timedelta(seconds=n.at_seconds), kind, n.text) for n in notes]
        found += [(part.end, "error", f"part {part.part}: {error}") for error in meta.errors]
    return [(_when(at), kind, text) for at, kind, text in sorted(found, key=lambda n: n[0])
            if span.start <= at <= span.end]
