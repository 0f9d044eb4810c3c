"""floodwall.reporting room: statistics over the ledger, terminal tables, HTML with charts."""

from floodwall.reporting.html import ActiveBan, render_html
from floodwall.reporting.stats import Report, build_report
from floodwall.reporting.text import render_text

__all__ = ["ActiveBan", "Report", "build_report", "render_html", "render_text"]
