import sys

from services.enrollment.cli import main

sys.exit(main())
