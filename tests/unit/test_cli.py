"""The command line: exit codes, messages, help, and no secret in any output."""

from __future__ import annotations

from pathlib import Path

import pytest

from kafka_watchdog import __version__
from kafka_watchdog.cli import main


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "w.yaml"
    path.write_text(text)
    return str(path)


def test_01_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out.startswith(f"kafka-watchdog {__version__} (librdkafka ")


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["run", "--help"],
        ["validate-config", "--help"],
        ["version", "--help"],
        ["status", "--help"],
        ["check", "--help"],
    ],
)
def test_02_help_on_every_command(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    assert "usage: kafka-watchdog" in capsys.readouterr().out


def test_03_validate_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "clusters:\n  - {name: a, bootstrap_servers: 'h:1'}\n")
    assert main(["validate-config", path]) == 0
    assert capsys.readouterr().out == f"{path}: OK (1 cluster: a)\n"


def test_04_validate_prints_every_problem_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        "srever: {}\nclusters:\n  - name: a\n    bootstrap_servers: h\n"
        "    kafka_client: {sasl.password: [not-a-string-secret-value]}\n",
    )
    assert main(["validate-config", path]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"error: {path}:1: srever: unknown key 'srever'; did you mean 'server'?"
    assert err[1].startswith(f"error: {path}:4: clusters[0].bootstrap_servers: ")
    assert err[-1] == f"{path}: {len(err) - 1} problems"
    assert not any("not-a-string-secret-value" in line for line in err)


def test_05_print_masks_secrets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pw").write_text("file-secret-123\n")
    path = write(
        tmp_path,
        "clusters:\n  - name: a\n    bootstrap_servers: h:1\n"
        "    kafka_client: {sasl.password_file: pw, sasl.username: me}\n"
        "    zookeeper: {connect: 'z:1', sasl: {password: zk-secret-456}}\n",
    )
    assert main(["validate-config", path, "--print"]) == 0
    out = capsys.readouterr().out
    assert "sasl.username: me" in out and "sasl.password: '***'" in out
    assert "file-secret-123" not in out and "zk-secret-456" not in out


def test_06_run_with_bad_config_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "clusters: []\n")
    assert main(["run", "--config", path]) == 1
    assert "clusters: List should have at least 1 item" in capsys.readouterr().err


def test_07_run_with_bad_listen_override_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "clusters:\n  - {name: a, bootstrap_servers: 'h:1'}\n")
    assert main(["run", "--config", path, "--listen", "nohost"]) == 1
    err = capsys.readouterr().err
    assert "env KAFKA_WATCHDOG__SERVER__LISTEN: server.listen: listen address 'nohost'" in err


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith(f"kafka-watchdog {__version__} (librdkafka ")


@pytest.mark.parametrize(
    ("argv", "first_line"),
    [
        # An unknown rule: UNKNOWN before anything is collected.
        (["--only", "no_such_rule"], "KAFKA-WATCHDOG UNKNOWN - no rule named no_such_rule"),
        (["--skip", "nope"], "KAFKA-WATCHDOG UNKNOWN - no rule named nope"),
    ],
)
def test_check_says_unknown_for_what_it_cannot_judge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], first_line: str
) -> None:
    path = write(tmp_path, "clusters:\n  - {name: a, bootstrap_servers: 'h:1'}\n")
    assert main(["check", "--config", path, *argv]) == 3
    assert capsys.readouterr().out.startswith(first_line)


def test_check_with_a_broken_config_is_unknown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "clusters: []\n")
    assert main(["check", "--config", path]) == 3
    out = capsys.readouterr()
    assert out.out.startswith("KAFKA-WATCHDOG UNKNOWN - the config could not be used")
    assert "clusters: List should have at least 1 item" in out.err


def test_nagios_code_is_the_worst_finding() -> None:
    from kafka_watchdog.rules.finding import Finding
    from kafka_watchdog.sinks.nagios import code_of

    def f(severity: str) -> Finding:
        return Finding("r", severity, {"kafka_cluster": "a"}, "s")

    assert code_of([]) == 0
    assert code_of([f("info")]) == 0
    assert code_of([f("info"), f("warning")]) == 1
    assert code_of([f("warning"), f("critical"), f("info")]) == 2
