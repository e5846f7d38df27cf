"""Start the PartScope web app: ``python app.py``.

Serves on 0.0.0.0:7860 unless GRADIO_SERVER_NAME / GRADIO_SERVER_PORT say
otherwise; deployment settings (cache folder, device, upload limit) come from
the environment (see core/settings.py).
"""

import logging
import os
import signal

from core import threads
from core.settings import load_settings

threads.prepare(load_settings().threads)  # before numpy, torch and scikit-learn load

from core.segment import preload  # noqa: E402
from core.pipeline import Engine  # noqa: E402
from webapp import build_demo  # noqa: E402

preload()  # the first fit's imports now, and every import frozen


def _stop(signum, frame):
    raise KeyboardInterrupt  # Gradio closes its server on this (docker stop sends SIGTERM)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    signal.signal(signal.SIGTERM, _stop)
    settings = load_settings()
    threads.use(settings.threads)  # once, for every fit the app runs
    demo = build_demo(Engine(settings=settings))
    demo.launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"),
                server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
                max_file_size=int(settings.max_upload_mb * 2**20))


if __name__ == "__main__":
    main()
