"""Generated numbers and mixed Chinese/English text for the sensitive-content
detectors' tests and bench/dlp.py (seeded: the same text every run)."""

from __future__ import annotations

import random

from portal.governance.detectors import id_check_digit


def luhn_digit(body: str) -> str:
    """The Luhn check digit that makes body + digit valid."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def id_number(rng: random.Random, valid: bool = True) -> str:
    region = rng.choice(["110101", "310104", "440305", "510107", "330106"])
    born = f"{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    first17 = region + born + f"{rng.randint(0, 999):03d}"
    check = id_check_digit(first17)
    if not valid:
        check = rng.choice([c for c in "0123456789X" if c != check])
    return first17 + check


def bank_card(rng: random.Random, length: int = 16, valid: bool = True) -> str:
    body = "62" + "".join(str(rng.randint(0, 9)) for _ in range(length - 3))
    check = luhn_digit(body)
    if not valid:
        check = str((int(check) + rng.randint(1, 9)) % 10)
    return body + check


def phone(rng: random.Random) -> str:
    return "1" + rng.choice("3456789") + "".join(str(rng.randint(0, 9)) for _ in range(9))


ZH = ("合同 报告 项目 会议 纪要 客户 财务 预算 年度 计划 审批 部门 经理 员工 数据 系统 服务 "
      "安全 管理 文件 版本 共享 备份 存储 季度 销售 采购 发票 金额 日期 地址 北京 上海 深圳").split()
EN = ("the report project meeting customer budget plan review team manager data system service "
      "security storage quarter sales invoice amount date address version share backup").split()


def mixed_text(size_chars: int, seed: int = 7, sensitive_every: int = 2000) -> str:
    """About size_chars characters of Chinese and English prose with numbers,
    dates, amounts and, now and then, an identity number, a card, a phone
    number or an e-mail address (about one per sensitive_every characters)."""
    rng = random.Random(seed)
    words = []
    total = 0
    next_sensitive = sensitive_every
    while total < size_chars:
        roll = rng.random()
        if roll < 0.45:
            w = "".join(rng.choice(ZH) for _ in range(rng.randint(1, 4)))
        elif roll < 0.9:
            w = rng.choice(EN)
        elif roll < 0.95:
            w = f"{rng.randint(2000, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        else:
            w = f"{rng.randint(1, 99999)}.{rng.randint(0, 99):02d}元"
        if total >= next_sensitive:
            next_sensitive += sensitive_every
            w = rng.choice([id_number(rng), bank_card(rng), phone(rng), f"user{rng.randint(1, 999)}@example.com",
                            id_number(rng, valid=False), bank_card(rng, valid=False), "机密", "PRJ-2031"])
        words.append(w)
        total += len(w) + 1
        if rng.random() < 0.05:
            words.append("。\n")
    return " ".join(words)


def seed_builtin_detectors() -> None:
    """The built-in detectors and their warn policies, as migration 0002 seeds them: a transactional test
    earlier in the session flushes every table, seeded rows included."""
    import importlib

    from django.apps import apps

    importlib.import_module("portal.governance.migrations.0002_sensitive_content").seed(apps, None)
