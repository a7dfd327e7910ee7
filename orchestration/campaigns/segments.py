"""Segments: SQL over the warehouse that yields the members of an audience.

A segment's query returns ``user_ref``, ``email_address`` and ``user_context`` (jsonb). It is read
in keyset pages ordered by ``user_ref`` - never with OFFSET and never whole - so an audience of
any size streams in constant memory, and a page query costs the same at the end as at the start
(with an index on the column behind ``user_ref``). No transaction spans the pages: a dispatch
that takes an hour holds no snapshot open.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from orchestration.campaigns.entities import EmailRecipient, RecipientType

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql

DEFAULT_PAGE_SIZE = 500


def partition_sql(address_sql: str, index_sql: str, count_sql: str) -> str:
    """SQL true when the address (an expression) falls in batch ``index`` of ``count``: a hash
    of the address normalized as ``normalize_recipient`` does (trimmed, lower-cased), so the
    audience query and the ledger (``recipient``) agree on every recipient's batch."""
    normalized = f"lower(btrim({address_sql}, E' \\t\\n\\r\\f\\v'))"
    return f"mod(hashtext({normalized})::bigint + 2147483648, {count_sql}) = {index_sql}"


class Segment(ABC):
    """A named source of recipients (seed 004).

    Subclasses set ``name`` and implement ``get_query(settings)`` returning SQL and its named
    parameters (``%(name)s`` placeholders; write a literal ``%`` as ``%%``). The SQL must return
    ``user_ref`` (unique, not null), ``email_address`` and ``user_context`` (jsonb or null).
    """

    name: ClassVar[str] = ""
    recipient_type: str = RecipientType.member  # given to every recipient of the segment

    @abstractmethod
    def get_query(self, settings: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]: ...

    def paginate_recipients(
        self,
        conn: psycopg.Connection,
        settings: Mapping[str, Any] | None = None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        limit: int | None = None,
        after: str | None = None,
        partition: tuple[int, int] | None = None,
    ) -> Iterator[list[EmailRecipient]]:
        """Yield pages of recipients in ``user_ref`` order, starting after ``after``.

        ``partition=(index, count)`` yields only the recipients of that batch of ``count``
        (``partition_sql``: by their normalized address, as the ledger stores it), so batches
        of one shoot run side by side without reading each other's recipients. ``limit`` is
        the whole audience's: a batch takes its share of the first ``limit`` recipients.
        """
        from psycopg import sql

        if page_size < 1:
            raise ValueError("page_size must be positive")
        query, params = self.get_query(dict(settings or {}))
        inner = sql.SQL(query)  # type: ignore[arg-type] - authored by the campaign, not users
        where = []
        if partition is not None:
            index, count = partition
            if not 0 <= index < count:
                raise ValueError(f"partition index {index} is not in 0..{count - 1}")
            where.append(partition_sql("email_address::text", "%(_mt_batch)s", "%(_mt_batches)s"))
            params = {**params, "_mt_batch": index, "_mt_batches": count}
            if limit is not None and limit < 1:
                return
            if limit is not None:
                # The audience is the first ``limit`` recipients of the whole segment: bound the
                # batch by the last of them instead of counting its own.
                last = self._last_of_first(conn, inner, params, limit)
                if last is not None:
                    where.append("user_ref::text <= %(_mt_last)s")
                    params = {**params, "_mt_last": last}
                limit = None
        first = sql.SQL(
            "select user_ref::text, email_address::text, user_context from ({}) as segment"
            + (" where " + " and ".join(where) if where else "")
            + " order by user_ref::text limit %(_mt_page)s"
        ).format(inner)
        following = sql.SQL(
            "select user_ref::text, email_address::text, user_context from ({}) as segment"
            " where "
            + " and ".join([*where, "user_ref::text > %(_mt_after)s"])
            + " order by user_ref::text limit %(_mt_page)s"
        ).format(inner)
        remaining = limit
        while remaining is None or remaining > 0:
            size = page_size if remaining is None else min(page_size, remaining)
            bound = {**params, "_mt_page": size, "_mt_after": after}
            rows = conn.execute(first if after is None else following, bound).fetchall()
            if not rows:
                return
            page = [
                EmailRecipient(
                    user_ref=row[0],
                    email_address=row[1] or "",
                    user_context=dict(row[2] or {}),
                    recipient_type=self.recipient_type,
                )
                for row in rows
            ]
            yield page
            after = rows[-1][0]
            if remaining is not None:
                remaining -= len(rows)
            if len(rows) < size:
                return

    @staticmethod
    def _last_of_first(
        conn: psycopg.Connection, inner: sql.Composable, params: Mapping[str, Any], limit: int
    ) -> str | None:
        """The ``user_ref`` of the ``limit``-th recipient in order (None: fewer than that)."""
        from psycopg import sql

        row = conn.execute(
            sql.SQL(
                "select user_ref::text from ({}) as segment order by user_ref::text"
                " offset %(_mt_offset)s limit 1"
            ).format(inner),
            {**params, "_mt_offset": limit - 1},
        ).fetchone()
        return None if row is None else str(row[0])

    def has_member(
        self,
        conn: psycopg.Connection,
        settings: Mapping[str, Any] | None = None,
        *,
        limit: int | None = None,
        account_refs: list[str] | None = None,
        user_ids: list[str] | None = None,
    ) -> bool:
        """Whether the audience (its first ``limit`` recipients, as a dispatch reads them) has a
        recipient of one of ``account_refs`` (``user_context.account_ref``) who is also one of
        ``user_ids`` (each filter only when given): one query, stopping at the first match."""
        from psycopg import sql

        query, params = self.get_query(dict(settings or {}))
        where = ["true"]
        bound: dict[str, Any] = dict(params)
        if account_refs is not None:
            where.append("member.user_context ->> 'account_ref' = any(%(_mt_accounts)s)")
            bound["_mt_accounts"] = [str(a) for a in account_refs]
        if user_ids is not None:
            where.append("member.user_ref = any(%(_mt_users)s)")
            bound["_mt_users"] = [str(u) for u in user_ids]
        bounded = ""
        if limit is not None:
            bounded = " order by user_ref::text limit %(_mt_limit)s"
            bound["_mt_limit"] = max(limit, 0)
        statement = sql.SQL(
            "select exists (select 1 from (select user_ref::text as user_ref, user_context"
            " from ({}) as segment" + bounded + ") as member where " + " and ".join(where) + ")"
        ).format(sql.SQL(query))  # type: ignore[arg-type] - authored by the campaign
        return bool(conn.execute(statement, bound).fetchone()[0])

    def list_recipients(
        self,
        conn: psycopg.Connection,
        settings: Mapping[str, Any] | None = None,
        *,
        limit: int | None = None,
    ) -> list[EmailRecipient]:
        """Every recipient at once - for previews and small audiences only."""
        return [
            recipient
            for page in self.paginate_recipients(conn, settings, limit=limit)
            for recipient in page
        ]


@dataclass
class SqlSegment(Segment):
    """A segment defined by a SQL string; ``defaults`` fill parameters the settings omit.

    Example::

        SqlSegment(
            "active_contacts",
            "select user_id as user_ref, email_address, jsonb_build_object('first_name',"
            " first_name) as user_context from app.contacts"
            " where is_subscribed and (%(plan)s::text is null or plan = %(plan)s)",
            defaults={"plan": None},
        )
    """

    segment_name: str
    query: str
    defaults: dict[str, Any] = field(default_factory=dict)
    recipient_type: str = RecipientType.member

    @property
    def name(self) -> str:  # type: ignore[override] - instance attribute instead of ClassVar
        return self.segment_name

    def get_query(self, settings: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
        return self.query, {**self.defaults, **settings}
