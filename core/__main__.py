import gc
import sys

from . import threads
from .settings import load_settings

threads.prepare(load_settings().threads)  # before numpy, torch and scikit-learn load

from .cli import main  # noqa: E402

code = main()
# the interpreter's last garbage collection walks every object torch and
# scikit-learn made: 1.1-2.1 s on the 2-core machine; it skips frozen ones
gc.freeze()
sys.exit(code)
