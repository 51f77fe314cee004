"""Monthly customers, market and VoC reports as HTML or PDF.

Key numbers, charts, tables and a summary written from the computed facts, in Korean or English.
"""

from carsight.reports.build import FORMATS, KINDS, ReportResult, build_report

__all__ = ["FORMATS", "KINDS", "ReportResult", "build_report"]
