"""``python -m sclcmeta`` runs the command line (the same as the ``sclcmeta`` script)."""

from .cli import main

raise SystemExit(main())
