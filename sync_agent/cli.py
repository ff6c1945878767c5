"""``coffer-agent`` / ``python -m sync_agent``: argparse, tiny handlers, and
one place (``main``) that turns the agent's errors into messages and exit codes."""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import signal
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

from . import __version__
from . import config as cfg
from . import service
from .errors import AgentError, DeviceRevoked, NotEnrolled, PortalUnreachable, UsageError
from .redact import RedactingFilter

logger = logging.getLogger("sync_agent")


class Agent:
    """What a command needs, opened lazily (borg's decorators: the handler just uses it)."""

    def __init__(self, args):
        self.args = args
        self.home = cfg.agent_home()
        self.config = cfg.load(self.home)
        limit = getattr(args, "limit_upload", None)
        if limit is not None:
            self.config.limit_upload_kib = limit
        self._state = self._journal = self._client = self._keys = None
        self._device = None
        self._config_stamp = self._stamp()

    def _stamp(self) -> int:
        try:
            return cfg.config_path(self.home).stat().st_mtime_ns
        except OSError:
            return 0

    def config_changed(self) -> bool:
        """config.json was written since it was read (``add`` / ``remove`` beside ``run``)."""
        return self._stamp() != self._config_stamp

    def reload_config(self) -> bool:
        """Re-read config.json (``add``/``remove`` while ``run`` runs); True if the folders changed."""
        old = [(f.path, f.excludes) for f in self.config.folders]
        limit = self.config.limit_upload_kib
        self._config_stamp = self._stamp()
        self.config = cfg.load(self.home)
        self.config.limit_upload_kib = self.config.limit_upload_kib or limit
        return old != [(f.path, f.excludes) for f in self.config.folders]

    @property
    def state(self):
        if self._state is None:
            from .state import State

            self._state = State(self.home)
        return self._state

    @property
    def journal(self):
        if self._journal is None:
            from .state import Journal

            self._journal = Journal(self.home)
        return self._journal

    @property
    def client(self):
        if self._client is None:
            from .client import Client

            creds = cfg.load_credentials(self.home, self.config)
            self._client = Client(self.config.server, creds.device_token, retries=self.config.retries,
                                  limit_upload_kib=self.config.limit_upload_kib)
        return self._client

    @property
    def keys(self):
        if self._keys is None:
            from .crypto import Keys

            creds = cfg.load_credentials(self.home, self.config)
            self._keys = Keys.from_b64(creds.id_key, creds.data_key)
        return self._keys

    def keyring(self) -> dict:
        """Key set id -> Keys: the current set and those held before (older snapshots' keys)."""
        from .crypto import Keys

        creds = cfg.load_credentials(self.home, self.config)
        ring = {ks: Keys.from_b64(k["id_key"], k["data_key"]) for ks, k in creds.previous.items()}
        ring[creds.key_set] = self.keys
        return ring

    def forget_device(self) -> None:
        self._device = None

    def rekey_if_needed(self, current: str) -> bool:
        """The portal names the key set new backups must use; when it is not the one held,
        fetch it, keep the old keys for older snapshots, and forget every chunk id of the
        old keys (dedup must not point new snapshots at old-key chunks). True if rekeyed."""
        creds = cfg.load_credentials(self.home, self.config)
        if not current or current == creds.key_set:
            return False
        answer = self.client.rekey()
        previous = dict(creds.previous)
        old_id = creds.key_set or answer.get("replaces") or ""
        if old_id != answer["key_set"]:
            previous[old_id] = {"id_key": creds.id_key, "data_key": creds.data_key}
        new = cfg.Credentials(creds.device_token, answer["keys"]["id_key"], answer["keys"]["data_key"],
                              key_set=answer["key_set"], previous=previous)
        self.state.begin()
        self.state.forget_chunks()
        self.state.commit()
        self.config.credentials_in = cfg.store_credentials(self.home, new)
        cfg.save(self.home, self.config)
        self._keys = None
        logger.warning("the portal gave this device a new key set (%s); the next backup uploads everything "
                       "again with it, older snapshots stay restorable", answer["key_set"])
        return True

    def repository(self):
        from .restore import Repository

        return Repository(self.client, self.keys, keyring=self.keyring())

    def backup(self, progress=None, stop=None):
        from .backup import Backup
        from .progress import Progress

        if self._device is None:
            self._device = self.client.device()  # also the portal's "last seen"
            self.rekey_if_needed(self._device.get("key_set") or "")
        return Backup(home=self.home, config=self.config, state=self.state, journal=self.journal,
                      client=self.client, keys=self.keys, progress=progress or Progress(enabled=False),
                      stop=stop or threading.Event(), device_excludes=self._device.get("excludes") or [])

    def excluder(self, folder):
        """The folder's patterns plus the portal's (when already fetched); never our own home."""
        from .scanner import Excluder

        device = (self._device or {}).get("excludes") or []
        return Excluder(folder.path, [*folder.excludes, *device], also=[str(self.home)])

    def report_failure(self, exc: Exception) -> None:
        """Tell the portal a backup failed (best effort: it may be what is failing)."""
        if isinstance(exc, (DeviceRevoked, PortalUnreachable)):
            return
        try:
            self.client.report(str(exc))
        except AgentError as again:
            logger.debug("could not report the failure: %s", again)

    def close(self) -> None:
        for thing in (self._state, self._journal):
            if thing is not None:
                thing.close()


def needs_agent(enrolled: bool = True):
    def decorate(handler):
        @functools.wraps(handler)
        def wrapper(args):
            agent = Agent(args)
            if enrolled and not agent.config.enrolled:
                raise NotEnrolled()
            try:
                return handler(args, agent)
            finally:
                agent.close()
        return wrapper
    return decorate


def _print_json(data) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str))


# --- commands ---------------------------------------------------------------------------
@needs_agent(enrolled=False)
def cmd_enroll(args, agent: Agent) -> int:
    from .client import Client

    answer = Client(args.server, retries=agent.config.retries).enroll(args.token, args.name or "")
    creds = cfg.Credentials(answer["device_token"], answer["keys"]["id_key"], answer["keys"]["data_key"],
                            key_set=answer.get("key_set") or "")
    config = agent.config
    config.server, config.device_id = args.server.rstrip("/"), str(answer["device_id"])
    config.name = args.name or ""
    config.pack_size = int(answer.get("pack_size") or config.pack_size)
    config.credentials_in = cfg.store_credentials(agent.home, creds)
    cfg.save(agent.home, config)
    print(f"enrolled as device {config.device_id} on {config.server} "
          f"(credentials in the {'OS keyring' if config.credentials_in == 'keyring' else 'agent folder, mode 0600'})")
    return 0


def _folder_path(raw: str) -> str:
    return str(Path(raw).expanduser().resolve())


@needs_agent(enrolled=False)
def cmd_add(args, agent: Agent) -> int:
    path = _folder_path(args.path)
    if not os.path.isdir(path):
        raise UsageError(f"{path} is not a folder")
    for other in agent.config.folders:
        if other.path != path and (path.startswith(other.path + os.sep) or other.path.startswith(path + os.sep)):
            raise UsageError(f"{path} overlaps {other.path}, which is already backed up")
    folder = agent.config.folder(path)
    if folder is None:
        agent.config.folders.append(cfg.Folder(path, list(args.exclude or [])))
    else:
        folder.excludes = list(args.exclude or folder.excludes)
    agent.config.folders.sort(key=lambda f: f.path)
    cfg.save(agent.home, agent.config)
    print(f"added {path}")
    return 0


@needs_agent(enrolled=False)
def cmd_remove(args, agent: Agent) -> int:
    path = _folder_path(args.path)
    if agent.config.folder(path) is None:
        raise UsageError(f"{path} is not backed up (see `coffer-agent status`)")
    agent.config.folders = [f for f in agent.config.folders if f.path != path]
    cfg.save(agent.home, agent.config)
    agent.state.forget_subtree(path)
    print(f"removed {path} (its snapshots stay on the portal)")
    return 0


@needs_agent(enrolled=False)
def cmd_status(args, agent: Agent) -> int:
    c = agent.config
    last = agent.state.meta_get("last_snapshot")
    data = {
        "home": str(agent.home), "enrolled": c.enrolled, "server": c.server, "device_id": c.device_id,
        "credentials": c.credentials_in or None,
        "folders": [{"path": f.path, "excludes": f.excludes} for f in c.folders],
        "tracked_files": agent.state.count_files(), "dirty": agent.journal.dirty_count(),
        "packs_pending": len(agent.journal.packs_pending()),
        "last_snapshot": json.loads(last) if last else None, "limit_upload_kib": c.limit_upload_kib,
    }
    if args.json:
        _print_json(data)
        return 0
    print(f"agent folder: {data['home']}")
    print(f"enrolled:     {'yes, device ' + c.device_id + ' on ' + c.server if c.enrolled else 'no'}")
    for f in c.folders:
        print(f"folder:       {f.path}" + (f"  (excluding {', '.join(f.excludes)})" if f.excludes else ""))
    print(f"tracked:      {data['tracked_files']} files; {data['dirty']} folders waiting; "
          f"{data['packs_pending']} packs to register")
    if data["last_snapshot"]:
        print(f"last backup:  {data['last_snapshot'].get('id')} at {data['last_snapshot'].get('finished_at')}")
    return 0


def _run_backup(agent: Agent, progress, stop):
    try:
        return agent.backup(progress, stop).run()
    except AgentError as exc:
        agent.report_failure(exc)
        raise


@needs_agent()
def cmd_backup(args, agent: Agent) -> int:
    from .progress import Progress

    if not agent.config.folders:
        raise UsageError("no folder to back up: `coffer-agent add PATH` first")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):  # finish the packs in flight, keep the cache, then exit
        signal.signal(sig, lambda *_: stop.set())
    with Progress() as progress:
        summary = _run_backup(agent, progress, stop)
    if args.json:
        _print_json(summary.as_dict())
    else:
        print(f"snapshot {summary.snapshot}: {summary.files} files, {summary.dirs} folders, "
              f"{summary.bytes} bytes; read {summary.files_read} files, uploaded {summary.added_bytes} bytes "
              f"in {summary.packs} packs; {summary.skipped} skipped; {summary.seconds:.1f} s")
    return 0


@needs_agent()
def cmd_run(args, agent: Agent) -> int:
    from .daemon import Daemon

    return Daemon(agent, threading.Event()).run()


@needs_agent()
def cmd_snapshots(args, agent: Agent) -> int:
    snaps = agent.client.snapshots()
    if args.json:
        _print_json(snaps)
        return 0
    for s in snaps:
        print(f"{s['id']}  {s.get('finished_at') or s.get('started_at')}  {s.get('files', '?')} files  "
              f"{s.get('bytes', '?')} bytes  {', '.join(s.get('paths') or [])}")
    return 0


@needs_agent()
def cmd_ls(args, agent: Agent) -> int:
    from .restore import listing

    repo = agent.repository()
    snap = repo.snapshot(args.snapshot)
    entries = listing(repo, snap["root"], args.path or "/")
    if args.json:
        _print_json([{k: v for k, v in e.items() if k != "chunks"} for e in entries])
        return 0
    for e in entries:
        when = datetime.fromtimestamp(e["mtime_ns"] / 1e9, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        kind = {"dir": "d", "symlink": "l"}.get(e["type"], "-")
        extra = f" -> {e['target']}" if e["type"] == "symlink" else ""
        print(f"{kind}{e['mode']:04o} {e.get('size', 0):>12} {when}  {e['name']}{'/' if kind == 'd' else ''}{extra}")
    return 0


@needs_agent()
def cmd_restore(args, agent: Agent) -> int:
    from .restore import Restorer

    repo = agent.repository()
    snap = repo.snapshot(args.snapshot)
    stats = Restorer(repo, args.overwrite).restore(snap["root"], args.path or "/", Path(args.target).resolve())
    print(f"restored {stats.files} files ({stats.bytes} bytes), {stats.dirs} folders, {stats.symlinks} links; "
          f"{stats.unchanged} left as they were")
    return 0


@needs_agent()
def cmd_verify(args, agent: Agent) -> int:
    from .verify import verify

    report = verify(agent.repository(), args.read_data_subset)
    print(f"ok: {report.snapshots} snapshots, {report.trees} trees, {report.chunks} chunks indexed, "
          f"{report.read} chunks read and checked")
    return 0


def cmd_install_service(args) -> int:
    print(f"installed {service.install()}")
    return 0


def cmd_uninstall_service(args) -> int:
    print(f"removed {service.uninstall()}")
    return 0


# --- parser and main -------------------------------------------------------------------------
def _percent(text: str) -> float:
    value = float(text.rstrip("%"))
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError("a percentage between 0 and 100")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coffer-agent", description="Coffer's desktop backup agent")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    parser.add_argument("--version", action="version", version=f"coffer-agent {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, handler, help_text):
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(handler=handler)
        return p

    p = command("enroll", cmd_enroll, "register this machine with a one-time token")
    p.add_argument("--server", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--name")
    p = command("add", cmd_add, "back up a folder")
    p.add_argument("path")
    p.add_argument("--exclude", action="append", metavar="PATTERN", help="gitignore-style; repeatable")
    command("remove", cmd_remove, "stop backing up a folder").add_argument("path")
    command("status", cmd_status, "what the agent does").add_argument("--json", action="store_true")
    for name, handler, text in (("backup", cmd_backup, "back up every folder now"),
                                ("run", cmd_run, "watch and back up until stopped")):
        p = command(name, handler, text)
        p.add_argument("--limit-upload", type=int, metavar="KiB/s")
        if name == "backup":
            p.add_argument("--json", action="store_true")
    command("snapshots", cmd_snapshots, "this device's snapshots").add_argument("--json", action="store_true")
    p = command("ls", cmd_ls, "list a folder of a snapshot")
    p.add_argument("snapshot", help="an id, a prefix of one, or 'latest'")
    p.add_argument("path", nargs="?")
    p.add_argument("--json", action="store_true")
    p = command("restore", cmd_restore, "restore a snapshot or a path of it")
    p.add_argument("snapshot")
    p.add_argument("path", nargs="?", help="default: everything, under its full path below --target")
    p.add_argument("--target", required=True)
    p.add_argument("--overwrite", choices=["never", "if-changed", "always"], default="if-changed")
    p = command("verify", cmd_verify, "check that the backup is complete and readable")
    p.add_argument("--read-data-subset", type=_percent, default=0.0, metavar="PERCENT")
    command("install-service", cmd_install_service, "start `run` at login")
    command("uninstall-service", cmd_uninstall_service, "undo install-service")
    return parser


def _setup_logging(verbose: bool, quiet: bool) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    if sys.stderr.isatty():  # beside rich's progress line
        from rich.logging import RichHandler

        handler = RichHandler(show_path=False, log_time_format="%H:%M:%S")
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    handler.addFilter(RedactingFilter())  # no presigned URL's credentials in a log line
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("sync_agent").setLevel(level)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose, args.quiet)
    try:
        return args.handler(args) or 0
    except AgentError as exc:
        logger.error("%s", exc)
        return exc.exit_code
    except KeyboardInterrupt:
        logger.error("interrupted")
        return 130
    except Exception:  # the one place that catches everything: a bug, reported with its traceback
        logger.exception("unexpected error")
        return 1
