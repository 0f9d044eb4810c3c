"""floodwall.enforcement room (see DESIGN.md): applying and removing bans in the firewall."""

from floodwall.enforcement.base import ApplyError, Enforcer, JailFirewall
from floodwall.enforcement.dryrun import DryRunEnforcer
from floodwall.enforcement.nftables import NftablesEnforcer
from floodwall.enforcement.recording import RecordingEnforcer
from floodwall.model import Change

__all__ = [
    "ApplyError",
    "Change",
    "DryRunEnforcer",
    "Enforcer",
    "JailFirewall",
    "NftablesEnforcer",
    "RecordingEnforcer",
]
