"""Global search on PostgreSQL at scale: 1,000,000 indexed names and 100,000
indexed documents across a few hundred spaces and users; p50 and p95 of
two-word queries (Chinese, English and mixed) for a user who can read a
realistic subset (a member of 10 of the 200 spaces), the access check and
the trash applied in SQL as the portal does. Targets: p50 <= 50 ms, p95 <= 200 ms.

It runs in-process against a fresh database (created and dropped here):
migrations, then users, spaces and memberships with the ORM, nodes and index
rows with COPY (tokens made by the index's own jieba tokenizer, per distinct
phrase and word), the GIN index built after loading, ANALYZE; then each query
is timed through ``portal.search.query.search`` (segmenting the words and
the SQL), first page of 50, after a warm-up.

Run: .venv/bin/python bench/search.py [--names 1000000] [--documents 100000] [--queries 300]
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from harness import database, log, table, verdict

ROOT = Path(__file__).resolve().parent.parent
P50_TARGET_MS, P95_TARGET_MS = 50, 200
SPACES, USERS, MEMBER_OF, BENCH_SPACES = 200, 300, 8, 10
TOP_FOLDERS, SUB_FOLDERS = 20, 80
DOC_WORDS = 120

EN = ("budget report quarterly annual plan marketing sales forecast invoice contract meeting minutes "
      "project roadmap design review summary analysis customer product launch strategy proposal draft final "
      "revenue expense payroll audit compliance policy handbook training onboarding release notes architecture "
      "security incident backup migration database network server client partner vendor purchase order "
      "shipment inventory warehouse logistics campaign brand website mobile research survey feedback "
      "interview candidate hiring benefits travel schedule calendar agenda presentation slides template "
      "specification requirements testing quality defect support ticket escalation legal patent trademark "
      "board investor finance tax statement balance cash flow risk insurance office lease facility "
      "equipment license subscription cloud storage api integration dashboard metrics kpi goal okr").split()
ZH = ("财务 报告 季度 年度 计划 市场 营销 销售 预测 发票 合同 会议 纪要 项目 路线图 设计 评审 总结 分析 客户 产品 "
      "发布 战略 提案 草稿 定稿 收入 支出 工资 审计 合规 政策 手册 培训 入职 版本 说明 架构 安全 事件 备份 迁移 "
      "数据库 网络 服务器 合作 供应商 采购 订单 发货 库存 仓库 物流 活动 品牌 网站 移动 研究 调查 反馈 面试 "
      "候选人 招聘 福利 差旅 日程 日历 议程 演示 模板 规格 需求 测试 质量 缺陷 支持 工单 法务 专利 商标 董事会 "
      "投资人 税务 报表 资产 现金流 风险 保险 办公室 租赁 设施 设备 许可 订阅 云存储 接口 集成 仪表盘 指标 目标").split()
EXTENSIONS = ("pdf docx xlsx pptx txt md png jpg zip mp4 csv").split()


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--names", type=int, default=1_000_000, help="indexed files and folders (default 1,000,000)")
    parser.add_argument("--documents", type=int, default=100_000, help="of which with indexed text (default 100,000)")
    parser.add_argument("--queries", type=int, default=300, help="timed queries (default 300)")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--explain", action="store_true", help="print the slowest query's plan")
    return parser.parse_args()


def setup_django(url: str, var_dir: str) -> None:
    os.environ.update({"PORTAL_DATABASE_URL": url, "PORTAL_VAR_DIR": var_dir, "PORTAL_DEBUG": "0",
                       "PORTAL_SECRET_KEY": secrets.token_hex(32), "PORTAL_MASTER_KEY": secrets.token_hex(32),
                       "DJANGO_SETTINGS_MODULE": "portal.settings"})
    os.environ.pop("PORTAL_REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


class Words:
    """Zipf-like word choice (a few words are common, most are rare), and
    the index's tokens of each phrase, made once per distinct phrase."""

    def __init__(self, rng: random.Random):
        from portal.search.index import words_of

        self.rng, self.words_of, self.cache, self.seen = rng, words_of, {}, []
        self.vocab = EN + ZH
        self.weights = [1 / (rank + 1) ** 0.7 for rank in range(len(self.vocab))]
        rng.shuffle(self.vocab)

    def pick(self, count: int) -> list[str]:
        return self.rng.choices(self.vocab, weights=self.weights, k=count)

    def phrase(self) -> str:
        words = self.pick(self.rng.randint(2, 3))
        distinct = list(dict.fromkeys(words))
        if len(self.seen) < 5000 and len(distinct) > 1:
            self.seen.append(distinct[:2])
        chinese = all("\u4e00" <= word[0] <= "\u9fff" for word in words)
        return ("" if chinese else " ").join(words if chinese else [w.capitalize() for w in words])

    def tokens(self, phrase: str) -> str:
        if phrase not in self.cache:
            self.cache[phrase] = self.words_of(phrase)
        return self.cache[phrase]


def _copy(cursor, table_name: str, columns: list[str], rows) -> None:
    with cursor.copy(f"COPY {table_name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def people_and_spaces(rng: random.Random):
    """USERS users, SPACES team spaces, memberships; the bench user is in BENCH_SPACES of them."""
    from portal.accounts.models import User
    from portal.spaces.models import Membership, Space

    users = User.objects.bulk_create([User(username=f"user{i:04d}", email=f"user{i:04d}@example.com")
                                      for i in range(USERS)])
    owner = users[0]
    spaces = Space.objects.bulk_create([Space(name=f"Team {i:03d}", slug=f"team-{i:03d}", quota_bytes=10 ** 15,
                                              created_by=owner) for i in range(SPACES)])
    members = set()
    for user in users:
        for space in rng.sample(spaces, BENCH_SPACES if user is users[1] else MEMBER_OF):
            members.add((space.pk, user.pk))
    Membership.objects.bulk_create([Membership(space_id=s, user_id=u, role="editor") for s, u in members])
    return users[1], spaces


def fill(args, rng: random.Random, spaces) -> list[list[str]]:
    """Nodes (root, folders, files) and their index rows by COPY; the GIN index afterwards."""
    from django.db import connection
    from django.utils import timezone

    from portal.search.index import file_type

    words = Words(rng)
    per_space = args.names // len(spaces)
    text_every = max(args.names // max(args.documents, 1), 1)
    word_tokens = {word: words.tokens(word) for word in words.vocab}
    node_rows, doc_rows, next_id, counter = [], [], 1, 0
    now = timezone.now()
    types = {ext: file_type(f"x.{ext}") for ext in EXTENSIONS}
    started = time.monotonic()
    for space in spaces:
        root = next_id
        next_id += 1
        node_rows.append((root, space.pk, None, "folder", "", "", 0, now, now))
        folders = []   # (id, path names)
        for i in range(TOP_FOLDERS + SUB_FOLDERS):
            parent, trail = (root, []) if i < TOP_FOLDERS else rng.choice(folders[:TOP_FOLDERS])
            name = f"{words.phrase()} {i}"
            node_rows.append((next_id, space.pk, parent, "folder", name, name.casefold(), 0, now, now))
            doc_rows.append((next_id, space.pk, "folder", "/" + "/".join(trail), words.tokens(name.rsplit(" ", 1)[0])
                             + f" {i}", words.tokens(" ".join(trail)), "", False, now,
                             name, name.casefold(), "folder", 0, now))
            folders.append((next_id, trail + [name]))
            next_id += 1
        for i in range(per_space - len(folders) - 1):
            parent, trail = rng.choice(folders)
            phrase, ext = words.phrase(), rng.choice(EXTENSIONS)
            name = f"{phrase} {i}.{ext}"
            counter += 1
            body = ""
            if counter % text_every == 0:
                body = " ".join(dict.fromkeys(" ".join(word_tokens[w] for w in words.pick(DOC_WORDS)).split()))
            modified = now - timedelta(minutes=rng.randint(0, 525_600))
            node_rows.append((next_id, space.pk, parent, "file", name, name.casefold(), rng.randint(10, 10 ** 8),
                              modified, modified))
            doc_rows.append((next_id, space.pk, types[ext], "/" + "/".join(trail),
                             f"{words.tokens(phrase)} {i} {ext}", words.tokens(" ".join(trail)), body, False, now,
                             name, name.casefold(), "file", node_rows[-1][6], modified))
            next_id += 1
    log(f"generated {len(node_rows):,} nodes, {sum(1 for r in doc_rows if r[6]):,} with text "
        f"in {time.monotonic() - started:.0f} s")
    started = time.monotonic()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        raw.execute("SET maintenance_work_mem = '256MB'")
        raw.execute("DROP INDEX search_doc_words")
        _copy(raw, "files_node", ["id", "space_id", "parent_id", "kind", "name", "name_key", "size", "created_at",
                                  "modified_at"], node_rows)
        raw.execute("SELECT setval(pg_get_serial_sequence('files_node', 'id'), %s)", [next_id])
        log(f"nodes copied in {time.monotonic() - started:.0f} s")
        started = time.monotonic()
        _copy(raw, "search_doc", ["node_id", "space_id", "file_type", "parent_path", "name_words", "path_words",
                                  "body_words", "trashed", "indexed_at", "name", "name_key", "kind", "size",
                                  "modified_at"], doc_rows)
        log(f"index rows copied in {time.monotonic() - started:.0f} s")
        started = time.monotonic()
        raw.execute("CREATE INDEX search_doc_words ON search_doc USING gin (words)")
        raw.execute("ANALYZE")
        log(f"GIN index built and tables analysed in {time.monotonic() - started:.0f} s")
    return words.seen


def queries(rng: random.Random, count: int, seen: list[list[str]]) -> list[str]:
    """Two-word queries as people type them, Chinese, English and mixed: half
    are two words of a name that exists (somewhere, maybe not where the user
    can read), half two words drawn from the vocabulary as names are."""
    words = Words(rng)
    out = []
    for i in range(count):
        if i % 2 and seen:
            first, second = rng.choice(seen)
        else:
            pool = (EN, ZH, EN + ZH)[i % 3]
            first, second = rng.sample([w for w in words.vocab if w in pool], 2)
        out.append(f"{first} {second}")
    return out


def run(args) -> None:
    rng = random.Random(args.seed)
    with database() as url, tempfile.TemporaryDirectory(prefix="coffer-bench-search-") as var_dir:
        started = time.monotonic()
        setup_django(url, var_dir)
        user, spaces = people_and_spaces(rng)
        seen = fill(args, rng, spaces)
        log(f"data ready in {time.monotonic() - started:.0f} s")
        from django.db import connection

        from portal.search import query

        asked = queries(rng, args.queries, seen)
        for q in asked[:30]:   # warm-up: the dictionary, the connection, the caches
            query.search(user, query.terms_of(q))
        timings, found = [], []
        for q in asked:
            begin = time.perf_counter()
            hits = query.search(user, query.terms_of(q))
            timings.append((time.perf_counter() - begin) * 1000)
            found.append(len(hits))
        if args.explain:
            slowest = asked[max(range(len(asked)), key=lambda i: timings[i])]
            explain(user, slowest)
        connection.close()
    report(args, timings, found)


def explain(user, q: str) -> None:
    """The plan of the slowest query, to stderr (--explain)."""
    from django.db import connection

    from portal.search import query

    captured = []

    def keep(execute, sql, params, many, context):
        captured.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(keep):
        query.search(user, query.terms_of(q))
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + captured[0][0], captured[0][1])
        log(f"plan of {q!r}:\n" + "\n".join(row[0] for row in cursor.fetchall()))


def report(args, timings: list[float], found: list[int]) -> None:
    timings.sort()
    p50 = statistics.median(timings)
    p95 = timings[min(len(timings) - 1, int(len(timings) * 0.95))]
    print(table(["measure", "value", "target", "verdict"], [
        ["indexed names", f"{args.names:,}", "", ""],
        ["indexed documents", f"{args.documents:,}", "", ""],
        ["queries (two words, zh/en/mixed)", f"{len(timings)}", "", ""],
        ["queries with hits", f"{sum(1 for n in found if n)}", "", ""],
        ["p50 ms", f"{p50:.1f}", f"<= {P50_TARGET_MS}", verdict(p50 <= P50_TARGET_MS)],
        ["p95 ms", f"{p95:.1f}", f"<= {P95_TARGET_MS}", verdict(p95 <= P95_TARGET_MS)],
        ["max ms", f"{timings[-1]:.1f}", "", ""],
    ], title="Search: 1 user in 10 of 200 spaces, first page of 50, access and trash applied in SQL"))


if __name__ == "__main__":
    run(parse())
