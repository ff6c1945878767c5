"""The full-text side of the index, per database:

- PostgreSQL: ``words``, a tsvector generated from the three token columns
  (the tokens are taken as they are: array_to_tsvector, no parser, no
  stemming; the 'simple' configuration's behaviour, without its parser
  splitting CJK or file names differently from jieba), with a GIN index;
- SQLite: ``search_fts``, an FTS5 table over the same columns (external
  content: the text lives once, in search_doc), kept in step by triggers.
"""

from django.db import migrations

PG_FORWARD = [
    "ALTER TABLE search_doc ADD COLUMN words tsvector GENERATED ALWAYS AS ("
    "array_to_tsvector(string_to_array(name_words, ' ') || string_to_array(path_words, ' ') "
    "|| string_to_array(body_words, ' '))) STORED",
    "CREATE INDEX search_doc_words ON search_doc USING gin (words)",
]
PG_BACKWARD = ["DROP INDEX IF EXISTS search_doc_words", "ALTER TABLE search_doc DROP COLUMN IF EXISTS words"]

SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE search_fts USING fts5(name_words, path_words, body_words, "
    "content='search_doc', content_rowid='node_id')",
    "CREATE TRIGGER search_doc_ai AFTER INSERT ON search_doc BEGIN "
    "INSERT INTO search_fts(rowid, name_words, path_words, body_words) "
    "VALUES (new.node_id, new.name_words, new.path_words, new.body_words); END",
    "CREATE TRIGGER search_doc_ad AFTER DELETE ON search_doc BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, name_words, path_words, body_words) "
    "VALUES ('delete', old.node_id, old.name_words, old.path_words, old.body_words); END",
    "CREATE TRIGGER search_doc_au AFTER UPDATE ON search_doc BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, name_words, path_words, body_words) "
    "VALUES ('delete', old.node_id, old.name_words, old.path_words, old.body_words); "
    "INSERT INTO search_fts(rowid, name_words, path_words, body_words) "
    "VALUES (new.node_id, new.name_words, new.path_words, new.body_words); END",
]
SQLITE_BACKWARD = ["DROP TRIGGER IF EXISTS search_doc_ai", "DROP TRIGGER IF EXISTS search_doc_ad",
                   "DROP TRIGGER IF EXISTS search_doc_au", "DROP TABLE IF EXISTS search_fts"]


def forward(apps, schema_editor):
    _run(schema_editor, PG_FORWARD, SQLITE_FORWARD)


def backward(apps, schema_editor):
    _run(schema_editor, PG_BACKWARD, SQLITE_BACKWARD)


def _run(schema_editor, pg: list[str], sqlite: list[str]) -> None:
    statements = {"postgresql": pg, "sqlite": sqlite}.get(schema_editor.connection.vendor, [])
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("search", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
