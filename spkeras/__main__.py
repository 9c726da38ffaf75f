import sys

from spkeras.cli import main

sys.exit(main())
