"""floodwall.enforcement room (see docs/architecture.md): applying and removing firewall bans."""

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
