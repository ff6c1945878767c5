"""The sensitive-content detectors on generated numbers: every valid one found,
no invalid check digit ever counted, Chinese keywords, unsafe patterns refused."""

import random

import pytest

from portal.governance import detectors as d
from tests.support.dlp_text import bank_card, id_number, mixed_text, phone


def kinds(text):
    numbers = d.scan_numbers(text)
    return {k: f.count for k, f in numbers.items() if f.count}


def test_valid_identity_numbers_are_found_and_invalid_check_digits_never():
    rng = random.Random(1)
    for _ in range(300):
        good, bad = id_number(rng), id_number(rng, valid=False)
        assert d.valid_id_number(good) and not d.valid_id_number(bad)
        assert kinds(f"身份证号：{good}。") == {d.ID_NUMBER: 1}
        assert kinds(f"身份证号：{bad}。") == {}  # not an ID, and not a card either


def test_identity_number_needs_a_real_birth_date_and_region():
    first17 = "11010519990230123"  # 30 February
    assert not d.valid_id_number(first17 + d.id_check_digit(first17))
    first17 = "99010519900101123"  # no such region
    assert not d.valid_id_number(first17 + d.id_check_digit(first17))
    first17 = "11010519900307123"
    assert d.valid_id_number(first17 + d.id_check_digit(first17))


def test_id_with_x_check_digit():
    rng = random.Random(5)
    while True:
        value = id_number(rng)
        if value.endswith("X"):
            break
    assert kinds(f"no. {value.lower()} ok") == {d.ID_NUMBER: 1}


def test_bank_cards_luhn_with_spaces_and_hyphens():
    rng = random.Random(2)
    for length in (13, 16, 19):
        for _ in range(100):
            good, bad = bank_card(rng, length), bank_card(rng, length, valid=False)
            assert kinds(f"卡号 {good} 。") == {d.BANK_CARD: 1}, good
            assert kinds(f"卡号 {bad} 。") == {}, bad
    card = bank_card(rng, 16)
    spaced = " ".join(card[i:i + 4] for i in range(0, 16, 4))
    hyphened = "-".join(card[i:i + 4] for i in range(0, 16, 4))
    assert kinds(f"card {spaced}, card {hyphened}") == {d.BANK_CARD: 2}


def test_mobile_numbers_with_country_code_and_groups():
    text = "电话 13800138000，+86 139 0013 9000，8615912345678，call 138-0013-8000 or 86-137-0013-8000"
    assert kinds(text) == {d.PHONE: 5}
    assert kinds("12800138000 10086 02112345678") == {}  # 12x is no mobile prefix; landlines are not mobiles


def test_numbers_glued_to_letters_or_too_long_are_not_counted():
    rng = random.Random(3)
    card = bank_card(rng)
    assert kinds(f"sha{card}abc") == {}
    assert kinds(f"order {card}7") == {}  # 17 digits failing Luhn as a whole


def test_emails_are_masked():
    found = d.scan_emails("联系 zhang.san+work@example.com.cn 或 li@corp.example.org，不是 a@b 或 @example.com")
    assert found.count == 2
    assert found.samples == ["z***@example.com.cn", "l***@corp.example.org"]


def test_keywords_chinese_and_english_any_case():
    words = d.normalise_keywords("机密\n Confidential \n\n机密\n内部资料")
    assert words == ["机密", "confidential", "内部资料"]
    text = "本文件机密，CONFIDENTIAL；机密。confidential"
    found = d.scan_keywords(text, text.encode().lower(), words)
    assert found.count == 4
    assert found.samples == ["机*", "c***********"]


@pytest.mark.parametrize("pattern", [r"(a+)+$", r"(a|aa)*b", r"(\w+\s?)*x", r"(.*a){20}", r"(?=a)a",
                                     r"(a)\1", "x" * 400, r"(unclosed", ""])
def test_unsafe_admin_patterns_are_refused(pattern):
    with pytest.raises(d.UnsafePattern):
        d.compile_admin_regex(pattern)


def test_admin_pattern_chinese_and_english():
    for fine in (r"[a-z]+-[0-9]{2,6}", r"(ab|cd){3}", r"\d{4}(年|/)\d{1,2}"):
        d.compile_admin_regex(fine)
    compiled = d.compile_admin_regex(r"(?i)(项目|project)-[0-9]{4}")
    found = d.scan_regex("项目-2024 与 PROJECT-1999 以及 project-12", compiled)
    assert found.count == 2
    assert all("2024" not in s and "1999" not in s for s in found.samples)


def test_run_applies_thresholds_and_labels_without_clear_values():
    rng = random.Random(4)
    ident = id_number(rng)
    phones = [phone(rng) for _ in range(5)]
    text = f"员工 {ident}；电话 {'、'.join(phones)}；邮箱 a@example.com"
    labels = {(lab.label, lab.detector): lab for lab in d.run(text, d.DEFAULT_SPECS)}
    assert set(labels) == {("personal-id", "id_number"), ("contact-details", "phone")}  # one e-mail < 10
    assert labels[("contact-details", "phone")].count == 5
    stored = repr([vars(lab) for lab in labels.values()])
    assert ident not in stored and not any(p in stored for p in phones)


def test_generated_mixed_text_counts_only_valid_numbers():
    text = mixed_text(400_000, seed=11)
    labels = {lab.detector: lab.count for lab in d.run(text, d.DEFAULT_SPECS)}
    # About 200 planted items, a sixth of each kind; invalid ones are never counted.
    assert 20 <= labels["id_number"] <= 45 and 20 <= labels["bank_card"] <= 45
