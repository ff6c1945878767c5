"""The README's settings table names every setting an operator can set.

The settings that exist are the ``env_*("NAME", ...)`` calls of portal/settings.py
(a secret's ``PORTAL_<NAME>_FILE`` too) and the ``PORTAL_*`` variables the
Procfile and the shipped systemd units read. The table's first column names them
in backticks, with three shorthands: ``_PORT`` after ``PORTAL_EMAIL_HOST`` means
``PORTAL_EMAIL_PORT`` (a sibling), ``_FILE`` means every name of the cell with
``_FILE`` appended, and ``PORTAL_OIDC_*`` stands for a family that a linked page
of docs/ lists name by name.
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV_HELPERS = {"env_str", "env_bool", "env_int", "env_list", "env_secret"}
SHELL_READ = re.compile(r"\$\{(PORTAL_[A-Z0-9_]+)")


def settings_that_exist() -> set[str]:
    names = set()
    for call in ast.walk(ast.parse((ROOT / "portal" / "settings.py").read_text())):
        if isinstance(call, ast.Call) and getattr(call.func, "id", None) in ENV_HELPERS:
            first = call.args[0]
            assert isinstance(first, ast.Constant), f"line {call.lineno}: a setting's name must be a literal"
            names.add("PORTAL_" + first.value)
            if call.func.id == "env_secret":
                names.add(f"PORTAL_{first.value}_FILE")
    for path in [ROOT / "Procfile", *sorted((ROOT / "deploy" / "systemd").glob("*.service"))]:
        names.update(SHELL_READ.findall(path.read_text()))
    return names


def table_cells() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return [line.split("|")[1] for line in section.splitlines() if line.startswith("| `PORTAL_")]


def names_in_cell(cell: str) -> tuple[set[str], set[str]]:
    """The names a table cell documents, and the families (``PORTAL_X_*``) it stands for."""
    names, families, last = set(), set(), None
    for token in re.findall(r"`([A-Z0-9_*]+)`", cell):
        if token.endswith("*"):
            families.add(token[:-1])
        elif token.startswith("PORTAL_"):
            names.add(token)
            last = token
        elif token == "_FILE":
            names.update({name + "_FILE" for name in list(names)})
        elif token.startswith("_") and last:
            names.add(last.rsplit("_", 1)[0] + token)
    return names, families


def documented() -> tuple[set[str], set[str]]:
    names, families = set(), set()
    for cell in table_cells():
        cell_names, cell_families = names_in_cell(cell)
        names |= cell_names
        families |= cell_families
    return names, families


def test_the_shorthands_expand_to_full_names():
    names, families = names_in_cell("`PORTAL_EMAIL_HOST` (+ `_PORT`, `_TLS`), `PORTAL_EMAIL_FROM`, `PORTAL_OIDC_*`")
    assert names == {"PORTAL_EMAIL_HOST", "PORTAL_EMAIL_PORT", "PORTAL_EMAIL_TLS", "PORTAL_EMAIL_FROM"}
    assert families == {"PORTAL_OIDC_"}
    names, _ = names_in_cell("`PORTAL_SECRET_KEY`, `PORTAL_MASTER_KEY` (or `_FILE`)")
    assert names == {"PORTAL_SECRET_KEY", "PORTAL_MASTER_KEY", "PORTAL_SECRET_KEY_FILE", "PORTAL_MASTER_KEY_FILE"}


def test_the_settings_module_is_read_for_names():
    found = settings_that_exist()
    assert {"PORTAL_DATABASE_URL", "PORTAL_STATIC_ROOT", "PORTAL_MASTER_KEY_FILE", "PORTAL_BIND"} <= found


def test_every_setting_is_in_the_readme_table():
    names, families = documented()
    missing = sorted(n for n in settings_that_exist() - names if not any(n.startswith(f) for f in families))
    assert not missing, f"add these to the README's settings table: {missing}"


def test_every_family_of_settings_is_listed_name_by_name_in_the_docs():
    _, families = documented()
    in_docs = set()
    for page in (ROOT / "docs").glob("*.md"):
        for line in page.read_text().splitlines():
            in_docs |= names_in_cell(line)[0]
    unlisted = sorted(n for n in settings_that_exist() - in_docs if any(n.startswith(f) for f in families))
    assert not unlisted, f"the README's table points to docs/ for these, but no page names them: {unlisted}"


def test_the_table_names_no_setting_that_does_not_exist():
    names, _ = documented()
    stale = sorted(names - settings_that_exist())
    assert not stale, f"the README's settings table names settings nothing reads: {stale}"


def test_the_shipped_settings_file_sets_only_settings_that_exist():
    shipped = ROOT / "deploy" / "systemd" / "coffer.env"
    names = {line.partition("=")[0] for line in shipped.read_text().splitlines() if line and not line.startswith("#")}
    assert names and not names - settings_that_exist(), sorted(names - settings_that_exist())
