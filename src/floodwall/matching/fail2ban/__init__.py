"""fail2ban compatibility: filter files read as fail2ban reads them, run as fail2ban runs them."""

from floodwall.matching.fail2ban.engine import Fail2banFilter, FilterFailure, FilterStats
from floodwall.matching.fail2ban.filterdef import FilterDefinition, load_filter

__all__ = ["Fail2banFilter", "FilterDefinition", "FilterFailure", "FilterStats", "load_filter"]
