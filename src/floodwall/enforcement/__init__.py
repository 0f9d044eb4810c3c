"""floodwall.enforcement room (see DESIGN.md): applying and removing bans in the firewall."""

from floodwall.enforcement.base import ApplyError, Change, Enforcer, JailFirewall
from floodwall.enforcement.dryrun import DryRunEnforcer
from floodwall.enforcement.nftables import NftablesEnforcer
from floodwall.enforcement.recording import RecordingEnforcer

__all__ = [
    "ApplyError",
    "Change",
    "DryRunEnforcer",
    "Enforcer",
    "JailFirewall",
    "NftablesEnforcer",
    "RecordingEnforcer",
]
