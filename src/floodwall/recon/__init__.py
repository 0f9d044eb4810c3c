"""floodwall.recon room: who the banned addresses are (rDNS, ASN, country, RDAP, ports)."""

from floodwall.recon.addon import ReconAddon
from floodwall.recon.enricher import Enricher, build_enricher
from floodwall.recon.geo import OfflineGeo
from floodwall.recon.model import JSON_KEYS, Enrichment

__all__ = ["JSON_KEYS", "Enricher", "Enrichment", "OfflineGeo", "ReconAddon", "build_enricher"]
