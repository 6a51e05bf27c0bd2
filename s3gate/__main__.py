import sys

from s3gate.cli import main

sys.exit(main())
