"""The warm worker of a local run's cell jobs (lossstudy.warm): started by the workflow's
``onstart``, it imports what a cell job imports once and forks a child per job."""

import argparse
from pathlib import Path

import _lossstudy_path  # noqa: F401  (finds lossstudy without the package installed)

from lossstudy.warm import IDLE_S, serve

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--socket", required=True)
parser.add_argument("--watch-pid", type=int, required=True)
parser.add_argument("--idle", type=float, default=IDLE_S)
parser.add_argument("--scripts", help="the directory of the scripts it runs (default: these)")
args = parser.parse_args()
serve(args.socket, args.watch_pid, args.scripts or Path(__file__).resolve().parent, idle=args.idle)
