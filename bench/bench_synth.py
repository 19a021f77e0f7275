"""How long `satukartu registry synth --citizens N` takes, end to end and by phase.

    .venv/bin/python bench/bench_synth.py --citizens 1000000 [--jobs J] [--keep DIR]

Makes a fresh PostgreSQL database and an issuing CA, runs the command as an operator
would (CSV generated, imported, a card per living citizen, the month's balances),
and prints the command's own report (each phase's seconds) and the wall time. With
--keep the database and its instance stay, for bench_auth.py and bench_redeem.py
(`--world DIR`); without, both are dropped.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import synth_world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--citizens", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=None,
                        help="processes making certificates (default: one per core)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the world in this folder (its database stays too)")
    args = parser.parse_args()
    world = synth_world.build(args.citizens, seed=args.seed, jobs=args.jobs, folder=args.keep)
    print(f"registry synth --citizens {args.citizens:,}: {world.seconds:.1f} s end to end "
          f"({world.seconds / args.citizens * 1e6:.0f} us a citizen); {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}")
    if args.keep:
        print(f"kept: database {world.name}, world {args.keep} (--world {args.keep})")
    else:
        synth_world.drop(world)


if __name__ == "__main__":
    main()
