"""``python -m gemcont.rotation`` (see :mod:`gemcont.rotation.cli`)."""

from gemcont.rotation.cli import main

raise SystemExit(main())
