"""Settings as an operator meets them: run manage.py in a clean environment."""

import os
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent


def manage(*args, env: dict, cwd=ROOT):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    clean.update(env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=cwd, env=clean, capture_output=True,
                          text=True, timeout=120)


PRODUCTION = {
    "PORTAL_SECRET_KEY": "p" * 64 + "-Zq8",
    "PORTAL_MASTER_KEY": "m" * 43,
    "PORTAL_HTTPS": "1",
    "PORTAL_ALLOWED_HOSTS": "files.example.com",
}


def test_the_deployment_checklist_is_clean_with_production_settings(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING",
                    env={**PRODUCTION, "PORTAL_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_models_and_migrations_agree(tmp_path):
    result = manage("makemigrations", "--check", "--dry-run", env={**PRODUCTION, "PORTAL_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr


def test_without_debug_the_portal_refuses_to_start_without_its_keys(tmp_path):
    result = manage("check", env={"PORTAL_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "PORTAL_SECRET_KEY" in result.stderr and "PORTAL_MASTER_KEY" in result.stderr


def test_debug_is_off_unless_asked(tmp_path):
    code = "from django.conf import settings; print(settings.DEBUG)"
    result = manage("shell", "--no-imports", "-c", code, env={**PRODUCTION, "PORTAL_VAR_DIR": str(tmp_path)})
    assert result.stdout.split() == ["False"], result.stderr


def test_a_malformed_setting_names_the_variable(tmp_path):
    result = manage("check", env={**PRODUCTION, "PORTAL_VAR_DIR": str(tmp_path), "PORTAL_HTTPS": "perhaps"})
    assert result.returncode != 0 and "PORTAL_HTTPS" in result.stderr


def test_the_embedded_first_start_writes_private_keys_once(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env["PORTAL_VAR_DIR"] = str(tmp_path)
    run = lambda: subprocess.run([sys.executable, "-m", "portal.embedded"], cwd=ROOT, env=env,  # noqa: E731
                                 capture_output=True, text=True, check=True)
    run()
    key = (tmp_path / "secret_key").read_text()
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "master_key").stat().st_mode & 0o777 == 0o600
    assert len(key.strip()) >= 50
    run()
    assert (tmp_path / "secret_key").read_text() == key
    result = manage("shell", "--no-imports", "-c", "from django.conf import settings; print(settings.DATABASES['default']['ENGINE'],"
                    " settings.STORAGE_BACKEND, settings.CELERY_BROKER_URL.split(':')[0])",
                    env={"PORTAL_VAR_DIR": str(tmp_path)})
    assert result.stdout.split() == ["django.db.backends.sqlite3", "local", "sqla+sqlite"], result.stderr


def test_hsts_preload_is_sent_only_when_asked_for(tmp_path):
    code = "from django.conf import settings; print(settings.SECURE_HSTS_PRELOAD)"
    env = {**PRODUCTION, "PORTAL_VAR_DIR": str(tmp_path)}
    assert manage("shell", "--no-imports", "-c", code, env=env).stdout.split() == ["False"]
    asked = {**env, "PORTAL_HSTS_PRELOAD": "1"}
    assert manage("shell", "--no-imports", "-c", code, env=asked).stdout.split() == ["True"]
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=asked)
    assert result.returncode == 0, result.stdout + result.stderr


def test_x_forwarded_proto_counts_only_behind_a_trusted_proxy(tmp_path):
    code = ("from django.test import RequestFactory; "
            "print(RequestFactory().get('/', HTTP_X_FORWARDED_PROTO='https').is_secure())")
    env = {**PRODUCTION, "PORTAL_VAR_DIR": str(tmp_path)}
    assert manage("shell", "--no-imports", "-c", code, env=env).stdout.split() == ["False"]
    proxied = {**env, "PORTAL_TRUSTED_PROXY_COUNT": "1"}
    assert manage("shell", "--no-imports", "-c", code, env=proxied).stdout.split() == ["True"]
