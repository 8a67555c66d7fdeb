"""The bundle's entry point: what the genstudio-gui script runs (studio.ui.app.main)."""
import multiprocessing
import sys

from studio.ui.app import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen app's worker processes (data loaders) start through here
    sys.exit(main())
