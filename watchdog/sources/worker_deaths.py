"""Why the Admin API worker process ended, in one word, for the log and the restart counter
(kafka_watchdog_admin_worker_restarts_total{cause}). Pure.

librdkafka aborts (SIGABRT) on an assertion when a response arrives for an Admin request
that already timed out (`rd_kafka_enq_once_del_source_return: Assertion 'eonce->refcnt >
0'`, confluentinc/librdkafka#4605): a broker paused or killed under the watchdog trips it.
Every call in flight then loses its answer, and the stages that asked report it
(reason `worker`); the next cycle runs on a new worker.
"""

from __future__ import annotations

import signal

ABORT = "abort"  # SIGABRT: a librdkafka assertion
KILLED = "killed"  # another signal (the OOM killer, an operator)
EXITED = "exited"  # it exited by itself
HUNG = "hung"  # it stopped answering and was killed
CAUSES = (ABORT, KILLED, EXITED, HUNG)


def cause_of(exitcode: int | None) -> str:
    """The cause for a worker that ended with `exitcode` (a returncode: -N for signal N)."""
    if exitcode is not None and exitcode < 0:
        return ABORT if -exitcode == signal.SIGABRT else KILLED
    return EXITED


def describe(cause: str, exitcode: int | None) -> str:
    if cause == ABORT:
        return "died (SIGABRT: a librdkafka abort)"
    if cause == KILLED and exitcode is not None:
        try:
            return f"died ({signal.Signals(-exitcode).name})"
        except ValueError:
            return f"died (signal {-exitcode})"
    if cause == HUNG:
        return "stopped answering"
    return f"exited (code {exitcode})"
