import sys

from fastrec.cli import main

sys.exit(main())
