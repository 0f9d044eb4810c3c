"""fail2ban compatibility: filters run as fail2ban runs them (config.fail2ban_filters reads
the files as fail2ban reads them)."""

from floodwall.matching.fail2ban.engine import Fail2banFilter, FilterFailure, FilterStats
from floodwall.settings.filters import FilterDefinition

__all__ = ["Fail2banFilter", "FilterDefinition", "FilterFailure", "FilterStats"]
