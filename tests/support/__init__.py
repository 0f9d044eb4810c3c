"""Helpers shared by tests of every room: log lines (lines), floodwall.toml files (configs),
daemons fed directly or started (daemons), waiting on conditions (waiting), and the real
things tests run: network namespaces, nginx, redis-server, Chromium, journals, fail2ban."""
