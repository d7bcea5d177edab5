"""Library chatter kept off the console: warnings and library log records go to the run log.

Library warnings (pyspark, Splink, Great Expectations, Python ``warnings``) are written to
``DATA_DIR/logs/safeguard.log`` instead of the console. Set up before the pipeline is imported,
so that import-time warnings (pyspark's pandas notice) land there too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from safeguard.contracts.layout import RUN_LOG

# Loggers whose records belong in the run log, not on the console.
LIBRARY_LOGGERS = (
    "py.warnings", "splink", "great_expectations", "pyspark", "py4j", "lightgbm",
    "safeguard.linkage.charts",  # a chart that could not be drawn: for the data team, not the console
)  # fmt: skip


@contextmanager
def library_output_to_log(data_dir: Path) -> Iterator[Path]:
    """Send Python warnings and the libraries' log records to ``DATA_DIR/logs/safeguard.log``
    (owner-only, like every file the CLI writes) for the duration of a command."""
    path = Path(data_dir) / RUN_LOG
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    saved = []
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.propagate, logger.level))
        logger.addHandler(handler)
        logger.propagate = False
        if logger.level == logging.NOTSET or logger.level > logging.WARNING:
            logger.setLevel(logging.WARNING)
    logging.captureWarnings(True)
    try:
        yield path
    finally:
        logging.captureWarnings(False)
        for logger, propagate, level in saved:
            logger.removeHandler(handler)
            logger.propagate = propagate
            logger.setLevel(level)
        handler.close()
