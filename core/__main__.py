import logging
import os
import sys

from . import threads
from .settings import load_settings

threads.prepare(load_settings().threads)  # before numpy, torch and scikit-learn load

from .cli import main  # noqa: E402

code = main()
# everything is written and closed by now; the interpreter's teardown (its
# last garbage collection over every object torch and scikit-learn made,
# their exit hooks, the modules) would take 0.3 s more, and up to 2 s
# without the freeze of segment.preload
logging.shutdown()
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
