"""``python -m fastrec``: the stop handler first, then the CLI.

Importing the CLI and what its commands need takes a tenth of a second on an idle machine
and more on a loaded one; a Ctrl-C in that time must stop a recording command cleanly, not
raise inside an import (see :mod:`fastrec.stop_signal`).
"""

import sys

from fastrec.stop_signal import StopSignal

stop = StopSignal()
stop.install()

from fastrec.cli import main  # noqa: E402 - after the handler, on purpose

sys.exit(main(stop=stop))
