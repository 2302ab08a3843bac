import sys

from wecom_bot.cli import main

sys.exit(main())
