"""``python -m spkeras``: the ``spkeras`` command."""

import sys

from spkeras.cli import main

sys.exit(main())
