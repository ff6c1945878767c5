"""The share pages' forms keep CSRF protection although their no-referrer
policy makes browsers send ``Origin: null``."""

import re

from django.test import Client


def _form_token(page) -> str:
    return re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content).group(1).decode()


def test_a_password_form_with_the_pages_token_and_a_null_origin_is_accepted(share, shared_file):
    link = share(shared_file["id"], password="correct horse battery")
    browser = Client(enforce_csrf_checks=True, REMOTE_ADDR="203.0.113.20")
    page = browser.get(f"/s/{link['token']}")

    answer = browser.post(f"/s/{link['token']}", {"password": "correct horse battery",
                                                  "csrfmiddlewaretoken": _form_token(page)}, HTTP_ORIGIN="null")

    assert answer.status_code == 303


def test_a_form_without_the_token_is_refused_and_unlocks_nothing(share, shared_file):
    link = share(shared_file["id"], password="correct horse battery")
    browser = Client(enforce_csrf_checks=True, REMOTE_ADDR="203.0.113.21")
    browser.get(f"/s/{link['token']}")

    answer = browser.post(f"/s/{link['token']}", {"password": "correct horse battery"}, HTTP_ORIGIN="null")

    assert answer.status_code == 403
    assert b"form has expired" in answer.content
    assert browser.get(f"/s/{link['token']}/download").status_code == 403


def test_a_form_posted_from_another_site_is_refused_even_with_a_token(share, shared_file):
    link = share(shared_file["id"], password="correct horse battery")
    browser = Client(enforce_csrf_checks=True, REMOTE_ADDR="203.0.113.22")
    page = browser.get(f"/s/{link['token']}")

    answer = browser.post(f"/s/{link['token']}", {"password": "correct horse battery",
                                                  "csrfmiddlewaretoken": _form_token(page)},
                          HTTP_ORIGIN="https://evil.example")

    assert answer.status_code == 403
