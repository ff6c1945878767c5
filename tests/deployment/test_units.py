"""The shipped systemd units run what the Procfile runs (`make run`), so a change to one
reaches production too; only the web server's worker count may differ."""

import re

import pytest

from tests.deployment.guide import ROOT, read_unit

UNIT_OF = {"web": "coffer-web.service", "worker": "coffer-worker.service", "beat": "coffer-beat.service",
           "coedit": "coffer-coedit.service"}


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def comparable(command: str) -> str:
    command = re.sub(r"\$\{(\w+):-[^}]*\}", r"${\1}", command)  # systemd has no defaults: the file sets them
    command = command.replace("/opt/coffer/.venv/bin/", "")
    return re.sub(r"--workers \d+", "--workers N", command)


def test_every_procfile_process_has_a_unit():
    assert set(procfile()) == set(UNIT_OF)


@pytest.mark.parametrize("process", sorted(UNIT_OF))
def test_each_unit_runs_the_procfile_command(process):
    unit = read_unit(UNIT_OF[process])
    assert comparable(unit.exec_start) == comparable(procfile()[process])
    assert unit.exec_start.startswith("/opt/coffer/.venv/bin/"), "systemd needs the venv's absolute path"
    assert unit.environment_file == "/etc/coffer/coffer.env"
