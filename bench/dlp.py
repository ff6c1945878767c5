"""Sensitive-content detectors: MB/s per core over extracted text.

Generated mixed Chinese/English prose (seeded; dates, amounts, and about one
planted identity number, bank card, mobile number or e-mail address, valid
or not, per 2,000 characters) of ``--size`` UTF-8 bytes (default 32M) is
scanned in this process, one thread, as the portal scans it (one extracted
text of at most 1,048,576 characters at a time), by every detector:
the four built-in ones, a keyword list of 20 Chinese and English words and
one administrator regex (``portal.governance.detectors.run``). Throughput is
the text's UTF-8 bytes divided by the CPU time of the scan (per core) and by
its wall time. Peer, same text, same run: Python's ``re`` with a common
e-mail pattern (``[\\w.+-]+@[\\w-]+\\.[\\w.-]+``) over the str, alone: what
one naive regex costs. Median of ``--runs`` (default 5). Target: >= 50 MB/s
per core for all six; the four built-in ones alone are shown beside (info).

Run: .venv/bin/python bench/dlp.py [--size 32M] [--runs 5]
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from harness import MB, arguments, log, median, table, verdict  # noqa: E402

from portal.governance import detectors  # noqa: E402

from tests.support.dlp_text import mixed_text  # noqa: E402

TARGET = 50.0
TEXT_LIMIT = 1024 * 1024  # portal.search.extract.TEXT_LIMIT (importing it needs the settings)
KEYWORDS = ("机密 绝密 内部资料 秘密 薪酬 工资单 病历 身份证 护照 银行账户 "
            "confidential secret internal payroll salary passport medical password credential restricted").split()
NAIVE_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


def specs() -> list[detectors.DetectorSpec]:
    return detectors.DEFAULT_SPECS + [
        detectors.keywords_spec("keywords", "confidential", 1, KEYWORDS),
        detectors.DetectorSpec("regex", detectors.REGEX, "project-code", 1,
                               pattern=detectors.compile_admin_regex(r"(项目|PRJ)-[0-9]{4}")),
    ]


def timed(fn) -> tuple[float, float, object]:
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn()
    return time.process_time() - cpu, time.perf_counter() - wall, result


def main() -> None:
    args = arguments(__doc__.splitlines()[0], size_help="UTF-8 bytes of text", size_default="32M",
                     runs_default=5)
    log(f"generating about {args.size / MB:.0f} MB of mixed text")
    text = mixed_text(args.size // 2)
    while len(text.encode("utf-8")) < args.size:  # CJK is 3 bytes a character, English 1
        text += "\n" + mixed_text(args.size // 4, seed=len(text))
    size = len(text.encode("utf-8"))
    configured = specs()
    # The portal scans one extracted text at a time, at most TEXT_LIMIT characters each.
    docs = [text[i:i + TEXT_LIMIT] for i in range(0, len(text), TEXT_LIMIT)]
    rows, ours, peer, builtin = [], [], [], []
    for run in range(args.runs):
        cpu, _wall, _found = timed(lambda: [detectors.run(doc, detectors.DEFAULT_SPECS) for doc in docs])
        builtin.append(size / MB / cpu)
        cpu, wall, per_doc = timed(lambda: [detectors.run(doc, configured) for doc in docs])
        labels = [label for found in per_doc for label in found]
        ours.append((size / MB / cpu, size / MB / wall))
        pcpu, pwall, found = timed(lambda: sum(1 for _ in NAIVE_EMAIL.finditer(text)))
        peer.append((size / MB / pcpu, size / MB / pwall))
        log(f"run {run + 1}: detectors {ours[-1][0]:.1f} MB/s per core ({len(labels)} labels), "
            f"naive e-mail re {peer[-1][0]:.1f} MB/s ({found} matches)")
    counts: dict[str, int] = {}
    for label in labels:
        counts[label.detector] = counts.get(label.detector, 0) + label.count
    log("found: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    per_core = median(v[0] for v in ours)
    peer_core = median(v[0] for v in peer)
    rows.append(["detectors (all 6)", per_core, median(v[1] for v in ours), peer_core, per_core / peer_core,
                 verdict(per_core >= TARGET)])
    rows.append(["built-in detectors (4)", median(builtin), "", peer_core, median(builtin) / peer_core, "(info)"])
    print(table(["scan", "MB/s per core", "MB/s wall", "peer MB/s per core", "ratio", f">= {TARGET:.0f}"],
                rows, title=f"sensitive-content detectors over {size / MB:.1f} MB of text, median of {args.runs}"))


if __name__ == "__main__":
    main()
