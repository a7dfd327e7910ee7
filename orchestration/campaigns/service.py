"""``Emailing``: seed 004's emailing API as one small service object.

It holds what the functions need - the warehouse URL, the registry, a sender, dispatch settings
and a clock - and opens its own connections, so callers (Dagster ops, the CLI, a web app, the
demo) write ``emailing.send_shoot(shoot_id)`` without plumbing. The underlying functions (in
``shoots``, ``planning``, ``overrides``, ``dispatch``, ``sending``, ``email_logs``, ``webhooks``)
take an explicit connection and can be used directly inside a caller's own transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from orchestration.campaigns import (
    active_campaigns,
    email_logs,
    overrides,
    planning,
    send_queue,
    shoots,
    webhooks,
)
from orchestration.campaigns.accounts import (
    RecipientFilter,
    account_refs_argument,
    filter_shoots,
)
from orchestration.campaigns.campaign import Campaign
from orchestration.campaigns.context import DispatchSettings, SendContext
from orchestration.campaigns.custom_blocks import CustomBlock, as_custom_blocks, select_blocks
from orchestration.campaigns.dispatch import ShootOutcome, dispatch_due_shoots, send_shoot
from orchestration.campaigns.entities import (
    NOT_SET,
    Audience,
    EmailLogMetrics,
    EmailLogPage,
    EmailPriority,
    EmailRecipient,
    EmailShoot,
    EmailShootState,
    Planning,
)
from orchestration.campaigns.preview import preview_link
from orchestration.campaigns.registry import Registry
from orchestration.campaigns.registry import registry as default_registry
from orchestration.campaigns.single_emails import SingleEmails
from orchestration.campaigns.templates import EmailContent
from orchestration.senders.base import Sender
from orchestration.senders.outbox import OutboxSender
from orchestration.settings import DEFAULT_FROM, Settings, load_settings

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Emailing(SingleEmails):
    """The emailing component: shoots, planning, sending and email logs (seed 004)."""

    database_url: str
    sender: Sender
    registry: Registry = field(default_factory=lambda: default_registry)
    settings: DispatchSettings = field(default_factory=DispatchSettings)
    default_from: str = DEFAULT_FROM
    drafts: Sender | None = None  # enqueue_as_draft target; default: $MAILTRAIL_HOME/drafts
    clock: Callable[[], datetime] = _utcnow
    preview_url: str | None = None  # where `mailtrail preview` serves (MAILTRAIL_PREVIEW_URL)

    def __post_init__(self) -> None:
        if self.drafts is None:
            self.drafts = OutboxSender(load_settings().drafts_dir)

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, *, registry: Registry | None = None
    ) -> Emailing:
        """The service as configured (``MAILTRAIL_*``): the same sender, limits and database
        as the Dagster ``emailing`` resource, from the same settings schema."""
        from orchestration.senders import SenderConfig, make_sender
        from orchestration.warehouse.connection import resolve_database_url

        settings = settings or load_settings()
        return cls(
            database_url=resolve_database_url(settings),
            sender=make_sender(SenderConfig.from_settings(settings)),
            registry=registry or default_registry,
            settings=DispatchSettings(
                concurrency=settings.send_concurrency, max_send_rate=settings.max_send_rate
            ),
            default_from=settings.sender_address,
            drafts=OutboxSender(settings.drafts_dir),
            preview_url=settings.preview_url,
        )

    # -- plumbing -----------------------------------------------------------------------------

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        import psycopg

        with psycopg.connect(
            self.database_url, autocommit=True, application_name="mailtrail"
        ) as conn:
            yield conn

    def context(self) -> SendContext:
        return SendContext(
            database_url=self.database_url,
            registry=self.registry,
            sender=self.sender,
            settings=self.settings,
            default_from=self.default_from,
            drafts=self.drafts,
            clock=self.clock,
        )

    def close(self) -> None:
        self.sender.close()

    # -- shoots -------------------------------------------------------------------------------

    def schedule_shoot(
        self,
        scheduled_at: datetime,
        audience: Audience,
        template: str,
        template_settings: dict[str, Any] | None = None,
        *,
        send_if_scheduled_in_past: bool = False,
        **options: Any,
    ) -> EmailShoot:
        """Persist a shoot (see ``shoots.schedule_shoot`` for options). The dispatch sensor sends
        it when due; ``send_if_scheduled_in_past`` sends a past-due one now, synchronously."""
        with self.connect() as conn:
            shoot = shoots.schedule_shoot(
                conn,
                self.registry,
                scheduled_at=scheduled_at,
                audience=audience,
                template=template,
                template_settings=template_settings,
                **options,
            )
        if send_if_scheduled_in_past and shoot.scheduled_at <= self.clock():
            outcome = self.send_shoot(shoot.shoot_id)
            return outcome.shoot or shoot
        return shoot

    def get_shoot(self, shoot_id: UUID | str) -> EmailShoot:
        with self.connect() as conn:
            return shoots.get_shoot(conn, shoot_id)

    def has_shoot(self, shoot_id: UUID | str) -> bool:
        with self.connect() as conn:
            return shoots.has_shoot(conn, shoot_id)

    def list_shoots(self, **filters: Any) -> list[EmailShoot]:
        """Shoots matching every filter (``shoots.list_shoots``), including seed 004's
        ``account_refs`` / ``user_ids`` (``accounts``)."""
        with self.connect() as conn:
            return shoots.list_shoots(conn, registry=self.registry, **filters)

    def cancel_shoot(self, shoot_id: UUID | str) -> EmailShoot:
        with self.connect() as conn:
            return shoots.cancel_shoot(conn, shoot_id)

    def patch_shoot(self, shoot_id: UUID | str, **changes: Any) -> EmailShoot:
        with self.connect() as conn:
            return shoots.patch_shoot(conn, self.registry, shoot_id, **changes)

    def duplicate_shoot(
        self, shoot_id: UUID | str, scheduled_at: datetime | None = None
    ) -> EmailShoot:
        with self.connect() as conn:
            return shoots.duplicate_shoot(conn, shoot_id, scheduled_at=scheduled_at)

    def send_shoot(
        self, shoot_id: UUID | str, dry_run: bool = False, is_retry: bool = False
    ) -> ShootOutcome:
        return send_shoot(self.context(), shoot_id, dry_run=dry_run, is_retry=is_retry)

    def send_shoot_in_batches(self, shoot_id: UUID | str, batches: int) -> ShootOutcome:
        """Send one shoot now as ``batches`` disjoint batches in parallel threads (each
        recipient once; see ``campaigns.batches``, which Dagster runs as one step per batch)."""
        from orchestration.campaigns.batches import send_shoot_in_batches

        return send_shoot_in_batches(self.context(), shoot_id, batches)

    def batch_send_shoot(
        self,
        shoot_ids: list[UUID | str] | None = None,
        scheduled_before: datetime | None = None,
        scheduled_after: datetime | None = None,
        campaign_name: str | None = None,
        backfill_days: int | None = None,
        silent_failure: bool = True,
    ) -> list[ShootOutcome]:
        """Send every due shoot matching the criteria, one after the other (seed 004)."""
        if scheduled_after is not None and backfill_days is not None:
            raise ValueError("give scheduled_after or backfill_days, not both")
        before = scheduled_before or self.clock()
        if backfill_days is not None:
            midnight = before.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            scheduled_after = midnight - timedelta(days=backfill_days)
        return dispatch_due_shoots(
            self.context(),
            now=before,
            campaign_name=campaign_name,
            scheduled_after=scheduled_after,
            shoot_ids=shoot_ids,
            silent_failure=silent_failure,
        )

    # -- recurring campaigns ------------------------------------------------------------------

    def plan(
        self, start: datetime, end: datetime, campaign_name: str | None = None
    ) -> planning.PlanResult:
        """Persist every recurring campaign's shoots in ``[start, end)`` (idempotent)."""
        with self.connect() as conn:
            return planning.plan_shoots(
                conn, self.registry, start, end, campaign_name=campaign_name
            )

    def get_planning(
        self,
        campaign_name: str,
        before: datetime,
        after: datetime | None = None,
        config_id: str | None = None,
        states: list[EmailShootState] | None = None,
        limit: int | None = None,
        account_refs: list[str] | None = None,
        user_ids: list[str] | None = None,
    ) -> Planning:
        with self.connect() as conn:
            return planning.get_planning(
                conn, self.registry, campaign_name, before, after or self.clock(), config_id,
                states, limit, account_refs=account_refs, user_ids=user_ids,
            )  # fmt: skip

    def get_pending_shoot(
        self, campaign_name: str, config_id: str, around: datetime | None = None
    ) -> EmailShoot | None:
        with self.connect() as conn:
            return planning.get_pending_shoot(conn, self.registry, campaign_name, config_id, around)

    def complete_shoot_config(self, campaign_name: str, config_id: str) -> EmailShoot | None:
        with self.connect() as conn:
            return overrides.complete_shoot_config(conn, campaign_name, config_id)

    def cancel_shoot_config(self, campaign_name: str, config_id: str) -> EmailShoot | None:
        with self.connect() as conn:
            return overrides.cancel_shoot_config(conn, campaign_name, config_id)

    def resume_shoot_config(self, campaign_name: str, config_id: str) -> EmailShoot | None:
        with self.connect() as conn:
            return overrides.resume_shoot_config(conn, campaign_name, config_id)

    def patch_shoot_config(
        self, campaign_name: str, config_id: str, scheduled_at: Any = NOT_SET, **changes: Any
    ) -> EmailShoot | None:
        if "custom_blocks_variation_id" in changes:
            overrides.check_variation(
                self.registry, campaign_name, config_id, changes["custom_blocks_variation_id"]
            )
        with self.connect() as conn:
            return overrides.patch_shoot_config(
                conn, campaign_name, config_id, scheduled_at=scheduled_at, **changes
            )

    def schedule_pending_shoots(
        self,
        scheduled_before: datetime,
        scheduled_after: datetime | None = None,
        backfill_days: int | None = None,
        campaign_name: str | None = None,
        silent_failure: bool = True,
        account_refs: list[str] | None = None,
        user_ids: list[str] | None = None,
        account_ids: list[str] | None = None,
    ) -> list[EmailShoot]:
        """Plan the occurrences due up to ``scheduled_before`` (seed 004); ``account_refs``
        (seed 004's ``account_ids``) / ``user_ids`` plan only those for these accounts/users."""
        accounts = account_refs_argument(account_refs, account_ids)
        with self.connect() as conn:
            return planning.schedule_pending_shoots(
                conn, self.registry, scheduled_before, scheduled_after, backfill_days,
                campaign_name, silent_failure, account_refs=accounts, user_ids=user_ids,
            )  # fmt: skip

    def process_pending_shoots(
        self,
        on_date: datetime,
        backfill_days: int = 0,
        campaign_name: str | None = None,
        silent_failure: bool = True,
        account_refs: list[str] | None = None,
        user_ids: list[str] | None = None,
        account_ids: list[str] | None = None,
    ) -> list[ShootOutcome]:
        """Plan and send the recurring campaigns' shoots due at ``on_date``, back to the start
        of the local day ``backfill_days`` days before (seed 004). Older unsent occurrences
        are left alone: a digest three weeks late is worse than none.

        ``account_refs`` (seed 004's ``account_ids``) / ``user_ids``: only the shoots for those
        accounts / users are planned and sent (``accounts``); each is sent whole."""
        accounts = account_refs_argument(account_refs, account_ids)
        self.schedule_pending_shoots(
            on_date, backfill_days=backfill_days, campaign_name=campaign_name,
            silent_failure=silent_failure, account_refs=accounts, user_ids=user_ids,
        )  # fmt: skip
        start = planning.backfill_window_start(self.registry, on_date, backfill_days, campaign_name)
        names = (
            [campaign_name]
            if campaign_name
            else [c.campaign_name for c in self.registry.list_recurring_campaigns()]
        )
        wanted = RecipientFilter.of(accounts, user_ids)
        return dispatch_due_shoots(
            self.context(),
            now=on_date,
            scheduled_after=start,
            campaign_names=names,
            shoot_ids=None if wanted is None else self._due_shoots_for(wanted, start, on_date),
            silent_failure=silent_failure,
        )

    def _due_shoots_for(
        self, wanted: RecipientFilter, start: datetime, on_date: datetime
    ) -> list[UUID | str]:
        """The unfinished shoots scheduled in ``[start, on_date]`` that are for the wanted
        accounts/users (dispatch then claims those of them that are due)."""
        with self.connect() as conn:
            due = shoots.list_shoots(
                conn,
                scheduled_after=start,
                scheduled_before=on_date + timedelta(microseconds=1),
                states=[EmailShootState.scheduled, EmailShootState.sending],
            )
            return [
                s.shoot_id for s in filter_shoots(conn, self.registry, due, wanted) if s.shoot_id
            ]

    def drain_send_queue(
        self,
        priority: EmailPriority | None = None,
        limit: int | None = None,
        now: datetime | None = None,
    ) -> send_queue.DrainResult:
        """Send the queued requests due (``async_send``, ``defer_send``), high priority first;
        what the ``drain_send_queue`` job runs."""
        return send_queue.drain_send_queue(self.context(), priority=priority, limit=limit, now=now)

    def preview_email(
        self,
        template_name: str,
        template_settings: dict[str, Any] | None = None,
        recipient: EmailRecipient | None = None,
        custom_blocks: list[CustomBlock | dict[str, Any]] | None = None,
        custom_blocks_variation_id: str | None = None,
    ) -> EmailContent:
        """Render a template for one (sample) recipient and content variation; nothing is sent."""
        template = self.registry.get_template(template_name)
        recipient = recipient or EmailRecipient(
            "preview", "preview@example.com", dict(template.preview_context)
        )
        settings = template.validate_settings(template_settings or {})
        blocks = select_blocks(
            template.custom_blocks, as_custom_blocks(custom_blocks), custom_blocks_variation_id,
            where=f"preview of {template_name!r}",
        )  # fmt: skip
        return template.render(
            recipient, settings, email_log_id="preview", campaign_name="preview", blocks=blocks,
            variation_id=custom_blocks_variation_id,
        )  # fmt: skip

    def get_preview_shoot_url(
        self,
        template: str | None = None,
        audience: Audience | None = None,
        template_settings: dict[str, Any] | None = None,
        *,
        shoot_id: UUID | str | None = None,
        user_ref: str | None = None,
    ) -> str | None:
        """A link to the email as a member of ``audience`` (or ``user_ref``) gets it, from a
        template and settings, or from a persisted shoot (``shoot_id``): ``mailtrail preview``
        serves it (seed 004). None if it cannot be generated: no ``preview_url`` configured,
        or the template or shoot does not exist."""
        if self.preview_url is None:
            return None
        if shoot_id is not None:
            if not self.has_shoot(shoot_id):
                return None
        elif template is None or not self.registry.has_template(template):
            return None
        return preview_link(
            self.preview_url, shoot_id=shoot_id, template=None if shoot_id else template,
            audience=audience, template_settings=template_settings, user_ref=user_ref,
        )  # fmt: skip

    # -- email logs and webhooks ---------------------------------------------------------------

    def paginate_email_logs(self, page: int, per_page: int = 500, **filters: Any) -> EmailLogPage:
        with self.connect() as conn:
            return email_logs.paginate_email_logs(conn, page, per_page, **filters)

    def get_email_log_metrics(self, **filters: Any) -> EmailLogMetrics:
        with self.connect() as conn:
            return email_logs.get_email_log_metrics(conn, **filters)

    def get_campaigns(self, start: date, end: date) -> list[Campaign]:
        """Registered recurring campaigns, and the non-recurring ones that sent anything on
        the UTC days ``[start, end]`` per ``marts.campaign_daily_stats`` (seed 004)."""
        with self.connect() as conn:
            return active_campaigns.get_campaigns(conn, self.registry, start, end)

    def retry_failed_webhooks(
        self, campaign_name: str | None = None, webhook_name: str | None = None
    ) -> int:
        """New attempts for failed handovers to handlers and hooks (see ``webhooks``)."""
        with self.connect() as conn:
            return webhooks.retry_failed_deliveries(
                conn, campaign_name=campaign_name, webhook_name=webhook_name
            )

    def dispatch_webhooks(self, since: datetime | None = None) -> webhooks.WebhookResult:
        with self.connect() as conn:
            return webhooks.dispatch_webhooks(conn, since, registry=self.registry)
