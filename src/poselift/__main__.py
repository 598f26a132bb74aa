"""``python -m poselift ...`` (and ``torchrun ... -m poselift train ...``): the ``poselift`` command."""

from poselift.cli.main import main

raise SystemExit(main())
