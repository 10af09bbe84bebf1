"""Logging configuration for the JVMs: everything to stdout, which lands in the node's log.

Kafka 3.9 and ZooKeeper log through slf4j -> reload4j (log4j 1 syntax); Kafka 4.x through
slf4j -> log4j2. One file per syntax is written into the workdir; the JVM flag that names it
depends on the distribution's major version.
"""

from __future__ import annotations

from pathlib import Path

from testcluster.dist import KafkaDist

_LOG4J1 = """\
log4j.rootLogger={level}, out
log4j.appender.out=org.apache.log4j.ConsoleAppender
log4j.appender.out.Target=System.{stream}
log4j.appender.out.layout=org.apache.log4j.PatternLayout
log4j.appender.out.layout.ConversionPattern=[%d] %p %m (%c)%n
# Per-request logging would drown everything else.
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.zookeeper.ClientCnxn=WARN
"""

_LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.target = SYSTEM_{stream_upper}
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.out.ref = OUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""


def write_log_configs(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for role, level, stream in (("server", "INFO", "out"), ("tool", "WARN", "err")):
        (directory / f"log4j-{role}.properties").write_text(
            _LOG4J1.format(level=level, stream=stream)
        )
        (directory / f"log4j2-{role}.properties").write_text(
            _LOG4J2.format(level=level, stream_upper=stream.upper())
        )


def log_flags(dist: KafkaDist, directory: Path, role: str = "server") -> list[str]:
    """JVM flags that point the distribution's logging backend at our config."""
    if dist.major >= 4:
        return [f"-Dlog4j2.configurationFile={directory / f'log4j2-{role}.properties'}"]
    return [f"-Dlog4j.configuration=file:{directory / f'log4j-{role}.properties'}"]
