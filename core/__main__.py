import sys

from . import threads
from .settings import load_settings

threads.prepare(load_settings().threads)  # before numpy, torch and scikit-learn load

from .cli import main  # noqa: E402

sys.exit(main())
