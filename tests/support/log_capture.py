"""The clerk-sync CLI, with every record of the functions' Powertools logger also written to a file as JSON lines.

    python tests/support/log_capture.py LOG_FILE local up --port 0 --ready-file ready.json

`local up` shows only the functions' warnings (its console turns the worker's INFO records into one line per
message and drops the rest). A log-hygiene test needs what a deployed function would write at any log level,
so this keeps the command exactly as it is and adds one handler, at DEBUG, with Powertools' own JSON formatter.
"""

from __future__ import annotations

import logging
import sys


def main(log_file: str, args: list[str]) -> None:
    from clerk_sync.observability import logger
    from clerk_sync_local.cli import app
    from clerk_sync_local.stack import console

    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logger.registered_formatter)
    handler.setLevel(logging.DEBUG)
    functions_log = logging.getLogger(logger.name)
    functions_log.addHandler(handler)
    functions_log.setLevel(logging.DEBUG)
    install = console.StackConsole.install

    def install_at_debug(self: console.StackConsole) -> None:
        install(self)
        functions_log.setLevel(logging.DEBUG)  # the console sets INFO; its own handlers keep their levels

    console.StackConsole.install = install_at_debug  # type: ignore[method-assign]
    app(args=args, prog_name="clerk-sync")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
