"""manage.py import_run: create an import job from flags and run it here, or
run (or resume) an existing job, with progress bars. Exit code 2, nothing
changed, on bad input."""

from __future__ import annotations

import os
import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from portal.core.errors import PortalError
from portal.imports import runner, selectors, services
from portal.imports.models import ImportJob, Mode, RunState, SourceKind

EXAMPLES = """
examples:
  manage.py import_run --as admin --space 3 --to /Archive --source folder --path /mnt/nas/archive
  manage.py import_run --as admin --space 3 --source s3 --endpoint http://s3.local:8333 --bucket old \\
      --prefix 2019/ --access-key AK --secret-key-env OLD_S3_SECRET --mode incremental --dry-run
  manage.py import_run --as admin --space 3 --source webdav --url https://cloud.example.com/remote.php/dav/files/ann/ \\
      --username ann --password-env NEXTCLOUD_PASSWORD --bwlimit 20M --concurrency 8
  manage.py import_run --job 7            # run job 7 again (or resume its interrupted run)
"""


def _bytes(value: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    value = (value or "").strip().lower().removesuffix("b").removesuffix("i")
    try:
        return int(float(value[:-1]) * units[value[-1]]) if value and value[-1] in units else int(value)
    except ValueError:
        raise CommandError(f"--bwlimit {value!r}: give bytes per second, e.g. 500K, 20M.", returncode=2) from None


class Command(BaseCommand):
    help = "Import an S3 bucket, a folder or a WebDAV server into a space (see docs/imports.md)."
    # Run often (a cron's incremental run finds nothing to do in seconds): Django's system checks,
    # which the portal's own start runs, would be a third of such a run.
    requires_system_checks = []

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.epilog = EXAMPLES
        parser.formatter_class = __import__("argparse").RawDescriptionHelpFormatter
        return parser

    def add_arguments(self, parser):
        parser.add_argument("--job", type=int, help="run this existing job (resumes its interrupted run)")
        parser.add_argument("--as", dest="actor", help="the administrator the job imports as (new jobs)")
        parser.add_argument("--space", type=int, help="the space to import into")
        parser.add_argument("--to", default="/", help="the folder in the space (default /)")
        parser.add_argument("--source", choices=SourceKind.values)
        parser.add_argument("--path", help="folder source: an absolute path under PORTAL_IMPORT_ROOTS")
        parser.add_argument("--endpoint", default="", help="S3 source: endpoint URL (empty: AWS)")
        parser.add_argument("--bucket", help="S3 source: bucket")
        parser.add_argument("--prefix", default="", help="S3 source: key prefix")
        parser.add_argument("--region", default="us-east-1")
        parser.add_argument("--access-key", default="")
        parser.add_argument("--secret-key-env", help="S3 source: the environment variable holding the secret key")
        parser.add_argument("--url", help="WebDAV source: the folder's URL")
        parser.add_argument("--username", default="")
        parser.add_argument("--password-env", help="WebDAV source: the environment variable holding the password")
        parser.add_argument("--mode", choices=Mode.values, default=Mode.INCREMENTAL)
        parser.add_argument("--every-hours", type=int, help="also run every N hours (Celery beat)")
        parser.add_argument("--bwlimit", help="bytes per second, e.g. 500K, 20M (default: unlimited)")
        parser.add_argument("--concurrency", type=int, default=4, help="parallel transfers (default 4)")
        parser.add_argument("--dry-run", action="store_true", help="report what would be copied; write nothing")
        parser.add_argument("--no-progress", action="store_true", help="no progress bars (logs, CI)")

    def handle(self, *args, **options):
        try:
            run = self._run_to_use(options)
        except PortalError as refused:
            raise CommandError(refused.message, returncode=2) from None
        final = runner.run_execute(run.pk, progress=None) if options["no_progress"] else self._with_bars(run)
        run.refresh_from_db()
        self._summary(run, final is None)
        if run.state == RunState.FAILED:
            raise CommandError(run.error or "the import failed", returncode=1)

    # --- which run ------------------------------------------------------------------------
    def _run_to_use(self, options):
        if options["job"] is not None:
            job = ImportJob.objects.filter(pk=options["job"]).select_related("created_by").first()
            if job is None:
                raise CommandError(f"No import job {options['job']}.", returncode=2)
            unfinished = selectors.run_unfinished(job)
            if unfinished is not None:
                if not selectors.run_is_stalled(unfinished) and unfinished.state == RunState.RUNNING:
                    raise CommandError(f"Run {unfinished.pk} of job {job.pk} is in progress in another worker.",
                                       returncode=2)
                self.stdout.write(f"Resuming run {unfinished.pk} of job {job.pk}.")
                return unfinished
            creator = job.created_by
            if not (creator.is_active and creator.is_superuser):
                raise CommandError(f"Job {job.pk} imports as {creator.get_username()}, who is no longer an active "
                                   f"administrator; create the job again as another one.", returncode=2)
            return services.import_run_start(actor=creator, job_id=job.pk, dry_run=options["dry_run"], queue=False)
        actor = self._actor(options["actor"])
        job = services.import_job_create(actor=actor, **self._job_fields(options))
        self.stdout.write(f"Created import job {job.pk} ({job.source_label} -> {job.target}).")
        return services.import_run_start(actor=actor, job_id=job.pk, dry_run=options["dry_run"], queue=False)

    def _actor(self, username):
        if not username:
            raise CommandError("Say which administrator imports with --as USERNAME (or run a --job).", returncode=2)
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None or not user.is_superuser:
            raise CommandError(f"{username!r} is not an active administrator.", returncode=2)
        return user

    def _secret(self, variable):
        if not variable:
            return ""
        if variable not in os.environ:
            raise CommandError(f"The environment variable {variable} is not set.", returncode=2)
        return os.environ[variable]

    def _job_fields(self, options) -> dict:
        kind = options["source"]
        if kind is None or options["space"] is None:
            raise CommandError("Give --space and --source (or --job).", returncode=2)
        source = {"path": options["path"], "endpoint": options["endpoint"], "bucket": options["bucket"],
                  "prefix": options["prefix"], "region": options["region"], "access_key": options["access_key"],
                  "url": options["url"], "username": options["username"]}
        secret = self._secret(options["secret_key_env"] if kind == SourceKind.S3 else options["password_env"])
        return {"space_id": options["space"], "target": options["to"], "source_kind": kind, "source": source,
                "secret": secret, "mode": options["mode"], "every_hours": options["every_hours"],
                "bytes_per_second": _bytes(options["bwlimit"]) if options["bwlimit"] else None,
                "concurrency": options["concurrency"]}

    # --- output ---------------------------------------------------------------------------
    def _with_bars(self, run):
        from rich.filesize import decimal
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(TextColumn("{task.description:>6}"), BarColumn(), TextColumn("{task.fields[detail]}"),
                      TimeRemainingColumn(), disable=not sys.stdout.isatty()) as bars:
            files = bars.add_task("files", total=None, detail="listing")
            size = bars.add_task("bytes", total=None, detail="")

            def show(current):
                done = current.files_copied + current.files_skipped + current.files_failed
                rate, _ = selectors.rate_and_eta(current)
                bars.update(files, total=current.files_seen, completed=done,
                            detail=f"{done}/{current.files_seen}" + ("" if current.listed else " (listing)"))
                total = current.bytes_copied + current.bytes_pending
                bars.update(size, total=total, completed=current.bytes_copied,
                            detail=f"{decimal(current.bytes_copied)}/{decimal(total)}"
                                   + (f" {decimal(int(rate))}/s" if rate else ""))
            return runner.run_execute(run.pk, progress=show)

    def _summary(self, run, left_alone: bool):
        if left_alone:
            self.stdout.write(f"Run {run.pk} was not run here (already ended, or another worker has it).")
        rate, _ = selectors.rate_and_eta(run)
        verb = "would copy" if run.dry_run else "copied"
        self.stdout.write(
            f"Run {run.pk} {run.state}: {run.files_seen} files seen, {run.files_copied} {verb} "
            f"({run.bytes_copied} bytes{f', {rate / 1024**2:.1f} MiB/s' if rate else ''}), "
            f"{run.files_skipped} unchanged, {run.files_failed} failed.")
        for item in selectors.run_errors(run, limit=20):
            self.stdout.write(f"  failed: {item.path}: {item.error}")
        if run.files_failed > 20:
            self.stdout.write(f"  ... and {run.files_failed - 20} more (the console's CSV report lists every file).")
