"""`check-config --fail2ban-config`: per fail2ban jail, what floodwall understood and runs."""

from __future__ import annotations

from floodwall.config.fail2ban_jails import read_fail2ban
from floodwall.settings.durations import format_duration


def print_fail2ban_report(directory: str) -> None:
    """Print each enabled jail of the directory: settings, actions, and what is not honoured."""
    setup = read_fail2ban(directory)
    print(f"fail2ban configuration {setup.directory}: {len(setup.jails)} enabled jail(s)")
    for jail in setup.jails:
        config = jail.config
        if config is None:
            state = "runs as floodwall's recidive rule" if setup.recidive and (
                jail.name == "recidive") else "does not run"
        else:
            state = "runs" if config.enabled else "does not run"
        print(f"  [{jail.name}] {state}")
        if jail.filter_path:
            print(f"    filter: {jail.filter_path} ({len(jail.failregex)} failregex)")
            journal = config.journal if config is not None else None
            if journal is not None:
                where = journal.directory or " ".join(journal.files) or "the journal"
                kinds = [kind for kind, on in (("system", journal.system),
                                               ("current user's", journal.user)) if on]
                if kinds:
                    where += f" ({' and '.join(kinds)} only)"
                if journal.namespace:
                    where += f", namespace {journal.namespace}"
                print(f"    journal: {where}, matches: {' '.join(journal.matches) or 'all'}")
            else:
                print(f"    logpath: {', '.join(jail.logpath) or '-'}")
            print(f"    maxretry={jail.maxretry} findtime={format_duration(jail.findtime)} "
                  f"bantime={format_duration(jail.bantime)} (sliding window)")
        if config is not None:
            ignored = ", ".join(str(network) for network in config.ignoreip) or "-"
            print(f"    ignoreip: {ignored}")
        for name, how in jail.actions:
            print(f"    action {name}: {how}")
        for note in jail.notes:
            print(f"    cannot honour: {note}")
