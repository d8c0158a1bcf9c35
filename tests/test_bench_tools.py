"""The bench's pgbench script builder (bench/sqlonly.py): values become literals pgbench leaves alone."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone

from bench.sqlonly import Expr, inline, literal


def test_no_literal_gives_pgbench_a_variable():
    # pgbench reads every `:name` in a statement as a variable, inside quotes too.
    for value in ['{"phone":null,"ok":true}', "2021-12-31T19:00:00-05:00", datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc)]:
        text = literal(value)
        assert not re.search(r":[A-Za-z0-9_]", text), text
        assert text.startswith("E'") and "\\x3a" in text


def test_literals_keep_their_values():
    assert literal(None) == "NULL" and literal(True) == "true" and literal(3) == "3"
    assert literal("it's") == "'it''s'"
    assert literal("a\\b:c") == "E'a\\\\b\\x3ac'"
    assert literal(b"\x00\xff") == "'\\x00ff'::bytea"
    assert literal([]) == "'{}'::text[]" and literal(["a", "b"]) == "ARRAY['a', 'b']::text[]"
    assert literal(Expr(":n")) == ":n"


def test_inline_replaces_each_placeholder_by_its_own_value():
    tenant = uuid.UUID(int=1)
    args = [tenant, *range(2, 11), Expr("(:n)::text")]
    sql = inline("INSERT INTO t VALUES ($1, $2,\n $10, $11, $1)", args)
    assert sql == f"INSERT INTO t VALUES ('{tenant}', 2, 10, (:n)::text, '{tenant}')"
