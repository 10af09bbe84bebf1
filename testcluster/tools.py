"""Kafka's own command-line tools, run on the cluster's classpath: the tests' oracles."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from testcluster.dist import KafkaDist
from testcluster.logconf import log_flags
from testcluster.process import java_command, with_death_signal

# Short names for the tools tests use most. The classes moved between releases, so a short
# name is resolved against the distribution's major version.
_TOOLS: dict[str, str] = {
    "TopicCommand": "org.apache.kafka.tools.TopicCommand",
    "ConsumerGroupCommand": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "MetadataQuorumCommand": "org.apache.kafka.tools.MetadataQuorumCommand",
    "GetOffsetShell": "org.apache.kafka.tools.GetOffsetShell",
    "LeaderElectionCommand": "org.apache.kafka.tools.LeaderElectionCommand",
    "ProducerPerformance": "org.apache.kafka.tools.ProducerPerformance",
    "ConsumerPerformance": "org.apache.kafka.tools.ConsumerPerformance",
    "ReassignPartitionsCommand": "org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
    "DeleteRecordsCommand": "org.apache.kafka.tools.DeleteRecordsCommand",
    "ClusterTool": "org.apache.kafka.tools.ClusterTool",
    "LogDirsCommand": "org.apache.kafka.tools.LogDirsCommand",
    "StorageTool": "kafka.tools.StorageTool",
}
_CONFIG_COMMAND = {3: "kafka.admin.ConfigCommand", 4: "org.apache.kafka.tools.ConfigCommand"}

# Tools that take no --bootstrap-server option.
_NO_BOOTSTRAP = {"kafka.tools.StorageTool", "org.apache.kafka.tools.ProducerPerformance"}

TOOL_HEAP = ("-Xmx256m",)


class ToolError(RuntimeError):
    def __init__(self, command: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(
            f"{' '.join(command[-8:])} exited {returncode}\n"
            f"--- stdout:\n{stdout.strip()}\n--- stderr:\n{stderr.strip()}"
        )


def resolve_tool(name: str, dist: KafkaDist) -> str:
    """A fully qualified main class for a short tool name (or the name itself if qualified)."""
    if "." in name:
        return name
    if name == "ConfigCommand":
        return _CONFIG_COMMAND[min(dist.major, 4)]
    try:
        return _TOOLS[name]
    except KeyError:
        raise ValueError(f"unknown tool {name!r}: pass a fully qualified main class") from None


def run_tool(
    dist: KafkaDist,
    workdir: Path,
    main_class: str,
    *args: str,
    bootstrap: str | None = None,
    timeout: float = 60.0,
    check: bool = True,
) -> str:
    """Run a Kafka tool and return its stdout.

    `--bootstrap-server <bootstrap>` is put first (before any sub-command, which argparse4j
    tools need) unless the tool takes none or the arguments already name a bootstrap.
    """
    main = resolve_tool(main_class, dist)
    argv = list(args)
    named = any(a in ("--bootstrap-server", "--bootstrap-controller") for a in argv)
    if bootstrap is not None and not named and main not in _NO_BOOTSTRAP:
        argv = ["--bootstrap-server", bootstrap, *argv]
    command = java_command(
        main,
        argv,
        dist.classpath,
        workdir,
        [*TOOL_HEAP, *log_flags(dist, workdir, "tool")],
    )
    proc = subprocess.Popen(
        with_death_signal(command),
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        raise ToolError(command, -9, stdout, f"timed out after {timeout:g}s\n{stderr}") from None
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    if check and proc.returncode != 0:
        raise ToolError(command, proc.returncode, stdout, stderr)
    return stdout
