"""``python -m simulator --settings JSON``: serve until terminated; prints one JSON line when ready."""

from __future__ import annotations

import argparse
import json
import sys

from .runtime import Simulator


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m simulator")
    parser.add_argument("--settings", default="{}", help="JSON object of Simulator(...) keyword arguments")
    settings = json.loads(parser.parse_args().settings)

    def ready(sim: Simulator) -> None:
        info = sim.engine.info()
        print(json.dumps({**info, "base_url": sim.base_url}), flush=True)
        sys.stdout = sys.stderr  # nothing else may fill the parent's pipe

    Simulator(**settings).serve_forever(on_ready=ready)


if __name__ == "__main__":
    main()
