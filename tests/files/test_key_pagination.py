"""KeyPaginator: a page with rows is one statement (its rows carry the
count); every page number Django's paginator refuses or forgives is refused
or forgiven the same way."""

from __future__ import annotations

import pytest
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.core.pagination import KeyPaginator
from portal.files import names
from portal.files.models import Node, NodeKind
from portal.files.selectors import children_list, space_root

pytestmark = pytest.mark.django_db


@pytest.fixture
def folder(team):
    root = space_root(team)
    Node.objects.bulk_create(Node(space_id=team.pk, parent=root, kind=NodeKind.FILE, name=f"n-{i:02d}.txt",
                                  name_key=names.name_key(f"n-{i:02d}.txt")) for i in range(23))
    return root


def _names(page) -> list[str]:
    return [node.name for node in page]


def test_a_page_with_rows_is_one_statement_and_knows_the_count(folder):
    paginator = KeyPaginator(children_list(folder), 10)
    with CaptureQueriesContext(connection) as queries:
        page = paginator.page(3)
        assert (paginator.count, paginator.num_pages, page.has_next(), page.has_previous()) == (23, 3, False, True)
    assert len(queries) == 1
    assert _names(page) == ["n-20.txt", "n-21.txt", "n-22.txt"]


@pytest.mark.parametrize("number", [1, 2, 3, "2", 2.0])
def test_every_page_holds_what_djangos_paginator_holds(folder, number):
    listed = children_list(folder)
    ours, django = KeyPaginator(listed, 10).page(number), Paginator(listed, 10).page(number)
    assert _names(ours) == _names(django)
    assert (ours.number, ours.paginator.count, ours.start_index(), ours.end_index()) == (
        django.number, django.paginator.count, django.start_index(), django.end_index())


@pytest.mark.parametrize("number, refused", [
    (4, EmptyPage), (2**63, EmptyPage), (10**30, EmptyPage), (0, EmptyPage), (-1, EmptyPage),
    ("two", PageNotAnInteger), (None, PageNotAnInteger), (2.5, PageNotAnInteger)])
def test_a_page_number_django_refuses_is_refused(folder, number, refused):
    with pytest.raises(refused):
        KeyPaginator(children_list(folder), 10).page(number)


@pytest.mark.parametrize("number, shown", [("two", 1), (99, 3), (2**64, 3), (2, 2)])
def test_get_page_forgives_as_django_does(folder, number, shown):
    assert KeyPaginator(children_list(folder), 10).get_page(number).number == shown


def test_an_empty_folder_has_one_empty_first_page_and_nothing_after(team):
    empty = Node.objects.create(space_id=team.pk, parent=space_root(team), kind=NodeKind.FOLDER, name="Empty",
                                name_key="empty")
    first = KeyPaginator(children_list(empty), 10).page(1)
    assert (list(first), first.paginator.count, first.paginator.num_pages) == ([], 0, 1)
    with pytest.raises(EmptyPage):
        KeyPaginator(children_list(empty), 10).page(2)


def test_the_api_answers_404_past_the_last_page_and_for_a_page_beyond_any_integer(client, alice, team, folder):
    client.force_login(alice)
    url = f"/api/v1/spaces/{team.pk}/tree/"
    assert client.get(url, {"page_size": 10, "page": 3}).json()["count"] == 23
    for page in (4, 2**63, "x"):
        assert client.get(url, {"page_size": 10, "page": page}).status_code == 404
