"""The monthly report as a PDF: summary table, charts, one section per programme."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether

from backend.documents import formats, render
from backend.documents.reports import Figures, MonthlyReport

OFFICE = "BADAN PERENCANAAN PEMBANGUNAN DAERAH"
GRANTED_COLOUR = render.CITY_BLUE
SPENT_COLOUR = colors.HexColor("#f2a541")
CHART_WIDTH = 170 * mm


@dataclass(frozen=True)
class ReportPrint:
    city: str
    font_dirs: tuple[str, ...]
    zone: str
    generated_at: datetime
    titles: Mapping[str, str]  # programme key -> its name


def compact(amount: float) -> str:
    """An axis label: 1,5 M (miliar), 250 jt (juta), 75 rb (ribu)."""
    for size, unit in ((1e9, "M"), (1e6, "jt"), (1e3, "rb")):
        if abs(amount) >= size:
            text = f"{amount / size:.1f}".rstrip("0").rstrip(".").replace(".", ",")
            return f"{text} {unit}"
    return f"{amount:.0f}"


def _rate(f: Figures) -> str:
    return formats.percent(f.spent, f.granted)


def _row(label: str, f: Figures) -> list[object]:
    return [label, f.beneficiaries, formats.money(f.granted), formats.money(f.spent),
            formats.money(f.expired), _rate(f), f.transactions]


HEADER = ["", "Penerima", "Disalurkan", "Dibelanjakan", "Hangus", "Serapan", "Transaksi"]
WIDTHS = [None, 19 * mm, 28 * mm, 28 * mm, 23 * mm, 18 * mm, 20 * mm]


def _table(k: render.Kit, first: str, rows: list[list[object]]) -> Flowable:
    return render.grid(k, [first, *HEADER[1:]], rows, widths=WIDTHS,
                       numeric=(1, 2, 3, 4, 5, 6), style=k.small)


def bars(k: render.Kit, labels: Sequence[str], granted: Sequence[int],
         spent: Sequence[int], height: float = 60 * mm) -> Drawing:
    """Granted beside spent, per label: the month's money in and out, at a glance."""
    drawing = Drawing(CHART_WIDTH, height)
    chart = VerticalBarChart()
    # reportlab takes any number for a widget's place and size; its stubs say int.
    chart.x, chart.y, chart.width, chart.height = (
        18 * mm, 14 * mm, CHART_WIDTH - 50 * mm, height - 18 * mm)  # type: ignore[assignment]
    chart.data = [list(granted), list(spent)]
    chart.categoryAxis.categoryNames = list(labels)
    chart.categoryAxis.labels.fontName = k.face.regular
    chart.categoryAxis.labels.fontSize = 6.5
    chart.categoryAxis.labels.angle = 30 if len(labels) > 6 else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(labels) > 6 else "n"
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labelTextFormat = compact
    chart.valueAxis.labels.fontName = k.face.regular
    chart.valueAxis.labels.fontSize = 6.5
    chart.bars[0].fillColor = GRANTED_COLOUR
    chart.bars[1].fillColor = SPENT_COLOUR
    chart.barSpacing = 1
    drawing.add(chart)
    drawing.add(_legend(k, CHART_WIDTH - 28 * mm, height - 6 * mm))
    return drawing


def _legend(k: render.Kit, x: float, y: float) -> Legend:
    legend = Legend()
    legend.x, legend.y = x, y  # type: ignore[assignment]  # any number; the stubs say int
    legend.fontName, legend.fontSize = k.face.regular, 7
    legend.colorNamePairs = [(GRANTED_COLOUR, "Disalurkan"), (SPENT_COLOUR, "Dibelanjakan")]
    legend.alignment = "right"
    return legend


def rates(k: render.Kit, labels: Sequence[str], values: Sequence[float]) -> Drawing:
    """Redemption rate per programme, in percent."""
    height = 12 * mm + 7 * mm * max(1, len(labels))
    drawing = Drawing(CHART_WIDTH, height)
    chart = HorizontalBarChart()
    # Any number here too; the stubs say int.
    chart.x, chart.y, chart.width, chart.height = (
        45 * mm, 8 * mm, CHART_WIDTH - 60 * mm, height - 12 * mm)  # type: ignore[assignment]
    chart.data = [list(values)]
    chart.categoryAxis.categoryNames = list(labels)
    chart.categoryAxis.labels.fontName = k.face.regular
    chart.categoryAxis.labels.fontSize = 7
    chart.valueAxis.valueMin, chart.valueAxis.valueMax, chart.valueAxis.valueStep = 0, 100, 20
    chart.valueAxis.labelTextFormat = "%d %%"
    chart.valueAxis.labels.fontName = k.face.regular
    chart.valueAxis.labels.fontSize = 7
    chart.bars[0].fillColor = SPENT_COLOUR
    drawing.add(chart)
    return drawing


def _summary(k: render.Kit, report: MonthlyReport, p: ReportPrint) -> list[Flowable]:
    keys = sorted(report.by_region)
    totals = {key: report.programme_total(key) for key in keys}
    rows = [_row(p.titles.get(key, key), totals[key]) for key in keys]
    rows.append(_row("Semua program", report.overall))
    names = [p.titles.get(key, key) for key in keys]
    return [
        k.p("Ringkasan per program", k.heading),
        _table(k, "Program", rows), render.gap(2),
        k.p("Penerima dihitung sekali per program; baris \u201cSemua program\u201d menghitung "
            "setiap penerima sekali. Serapan = dibelanjakan ÷ disalurkan.", k.small),
        KeepTogether([k.p("Disalurkan dan dibelanjakan per program", k.heading),
                      bars(k, names, [totals[x].granted for x in keys],
                           [totals[x].spent for x in keys])]),
        KeepTogether([k.p("Serapan per program", k.heading),
                      rates(k, names, [100 * (totals[x].redemption_rate or 0) for x in keys])]),
    ]


def _appeals(k: render.Kit, report: MonthlyReport) -> list[Flowable]:
    """The month's appeals (keberatan): a service level the city answers for."""
    a = report.appeals
    rows = [["Diajukan", a.filed], ["Diselesaikan", a.resolved],
            ["Diselesaikan tepat waktu", a.resolved_in_time],
            ["Terlambat (belum selesai, lewat tenggat)", a.overdue]]
    return [KeepTogether([
        k.p("Keberatan warga", k.heading),
        render.grid(k, ["", "Jumlah"], rows, widths=[None, 25 * mm], numeric=(1,),
                    style=k.small), render.gap(2),
        k.p("Tepat waktu: diselesaikan paling lambat pada tanggal tenggat. Terlambat: "
            "dihitung pada akhir bulan (atau saat ini untuk bulan berjalan).", k.small)])]


def _programme(k: render.Kit, report: MonthlyReport, key: str, p: ReportPrint
               ) -> list[Flowable]:
    regions = report.by_region[key]
    labels = [formats.region(r) if r != "?" else "tidak diketahui" for r in regions]
    rows = [_row(label, f) for label, f in zip(labels, regions.values(), strict=True)]
    rows.append(_row("Jumlah", report.programme_total(key)))
    return [KeepTogether([
        k.p(f"{p.titles.get(key, key)} ({key})", k.heading),
        _table(k, "Wilayah", rows), render.gap(3),
        bars(k, labels, [f.granted for f in regions.values()],
             [f.spent for f in regions.values()], height=55 * mm),
    ])]


def render_report(report: MonthlyReport, p: ReportPrint) -> bytes:
    """A4 portrait: letterhead, the month's summary and charts, then each programme."""
    k = render.kit(p.city, p.font_dirs)
    level = {"regency": "kabupaten/kota", "district": "kecamatan", "village": "kelurahan/desa"}
    story: list[Flowable] = [
        render.letterhead(k, OFFICE), render.gap(5),
        k.p("LAPORAN BULANAN PROGRAM SATUKARTU", k.title, bold=True),
        k.p(f"Bulan {formats.month_title(report.month)} · wilayah per "
            f"{level[report.level]}", k.centre),
        k.p("Monthly programme report for monitoring and evaluation", k.centre),
        render.gap(3),
    ]
    if not report.by_region:
        story.append(k.p("Tidak ada penyaluran atau transaksi pada bulan ini."))
    else:
        story += _summary(k, report, p)
    story += _appeals(k, report)
    for key in sorted(report.by_region):
        story += _programme(k, report, key, p)
    note = (f"Sumber: buku besar SatuKartu {p.city}; dibuat "
            f"{formats.moment(p.generated_at, p.zone)}")
    footer = render.Footer("", note, f"Periode {report.start:%Y-%m-%d %H:%M} s.d. "
                           f"{report.end:%Y-%m-%d %H:%M} UTC")
    return render.build(story, k=k, title=f"Laporan bulanan {report.month}", footer=footer,
                        bottom=24 * mm)
