"""Offline data: an operator's MaxMind-format database wins over the bundled data."""

from __future__ import annotations

from pathlib import Path

import pytest

from floodwall.errors import ReconError
from floodwall.recon.geo import OfflineGeo
from tests.recon.mmdb import write_mmdb


def test_a_given_mmdb_takes_precedence_and_the_bundled_data_fills_in(tmp_path: Path) -> None:
    asn_db, country_db = tmp_path / "asn.mmdb", tmp_path / "country.mmdb"
    write_mmdb(asn_db, "8.8.0.0/16", {"autonomous_system_number": 64500,
                                      "autonomous_system_organization": "TEST-AS-ORG"})
    write_mmdb(country_db, "8.8.8.0/24", {"country": {"iso_code": "DE"}},
               database_type="GeoLite2-Country")
    geo = OfflineGeo([str(asn_db), str(country_db)])
    assert geo.lookup("8.8.8.8") == {"asn": 64500, "as_name": "TEST-AS-ORG", "country": "DE",
                                     "prefix": "8.8.0.0/16"}
    # Not in the given databases: the bundled data answers (it has no AS numbers).
    assert geo.lookup("1.1.1.1")["as_name"] == "CLOUDFLARENET"
    assert geo.lookup("1.1.1.1")["asn"] is None
    # Only a country in the given data: the AS name still comes from the bundled data.
    only_country = OfflineGeo([str(country_db)]).lookup("8.8.8.8")
    assert (only_country["country"], only_country["as_name"]) == ("DE", "GOOGLE")
    geo.close()


def test_an_unreadable_mmdb_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mmdb"
    broken.write_bytes(b"not a database")
    with pytest.raises(ReconError, match="broken.mmdb: cannot read this MaxMind database"):
        OfflineGeo([str(broken)])
