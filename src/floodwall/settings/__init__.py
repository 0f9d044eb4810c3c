"""The configuration's values and the pure helpers that go with them (durations, the ban-time
formula): the ground floor, importing no room. `floodwall.config` reads files into them."""
