import sys

from s3dav.cli import main

sys.exit(main())
