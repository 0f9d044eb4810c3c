"""The L7 hardening audit: fetch hosted sites, grade their security headers, write fixes."""

from floodwall.audit.fetch import FetchOptions
from floodwall.audit.model import Finding, Hop, Severity, SiteResult
from floodwall.audit.render import html_section, text_report, to_json
from floodwall.audit.run import audit, audit_sync, targets
from floodwall.audit.vhosts import Vhost, find_vhosts

__all__ = ["FetchOptions", "Finding", "Hop", "Severity", "SiteResult", "Vhost", "audit",
           "audit_sync", "find_vhosts", "html_section", "targets", "text_report", "to_json"]
