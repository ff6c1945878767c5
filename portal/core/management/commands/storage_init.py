from django.core.management.base import BaseCommand, CommandError

from portal.core.errors import PortalError


class Command(BaseCommand):
    help = ("Create the storage folder or S3 bucket if missing, and those of every colder tier "
            "(PORTAL_TIERS), and check that each answers. On S3, also set the bucket's CORS rule for "
            "browser uploads and its lifecycle rule for stale multipart uploads, or print the aws-cli "
            "commands that do where the store does not support setting them (docs/storage.md).")

    def handle(self, *args, **options):
        from portal.storage.tiers import HOT, tier_store, tiers

        for name in tiers():
            store = tier_store(name)
            try:
                store.ensure_bucket()
                store.check()
                if name == HOT:
                    self._bucket_rules(store)
            except PortalError as exc:
                raise CommandError(f"tier {name}: {exc.message}") from None
            self.stdout.write(f"Storage ready: {name}: {store}")

    def _bucket_rules(self, store) -> None:
        """Browsers upload to the hot store and the upload sweep cleans it: its rules."""
        from portal.storage import bucket_rules

        for what, rule, setter, command in (
                ("CORS rule for browser uploads from " + bucket_rules.portal_origin(), bucket_rules.cors_rule(),
                 store.cors_rule_set, bucket_rules.cors_command),
                (f"lifecycle rule aborting multipart uploads older than {bucket_rules.abort_after_days()} days",
                 bucket_rules.lifecycle_rule(), store.lifecycle_rule_set, bucket_rules.lifecycle_command)):
            done = setter(rule)
            if done:
                self.stdout.write(f"Bucket {store.bucket}: {what}: set.")
            elif done is False:
                self.stdout.write(f"Bucket {store.bucket}: this store does not let Coffer set the {what}. "
                                  f"Set it yourself (this replaces the bucket's existing ones; merge if it has any):\n"
                                  f"  {command(store.endpoint_url, store.bucket)}")
