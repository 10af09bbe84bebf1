import sys

from kafka_watchdog.cli import main

if __name__ == "__main__":
    sys.exit(main())
