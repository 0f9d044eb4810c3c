"""Allow `python -m floodwall`."""

from floodwall.cli.main import main

raise SystemExit(main())
