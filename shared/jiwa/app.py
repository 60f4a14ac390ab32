"""The handlers each function serves, built once per process from the environment."""

from __future__ import annotations

import functools
from datetime import timedelta

from jiwa import logs
from jiwa.admission import Admission
from jiwa.admission_store import admission_for
from jiwa.clients import Clients, for_process
from jiwa.handlers.dispatcher import Dispatcher
from jiwa.handlers.notifier import Notifier
from jiwa.handlers.oauth import OAuthHandler
from jiwa.handlers.poison import PoisonGuard
from jiwa.handlers.statuses import StatusHandler
from jiwa.handlers.sweeper import Sweeper
from jiwa.handlers.taps import TapHandler
from jiwa.handlers.webhook import WebhookHandler
from jiwa.launchers import CloudRunLauncher, Launcher, LocalProcessLauncher
from jiwa.standby import Standbys
from jiwa.topology import MAX_DELIVERY_ATTEMPTS
from jiwa.window import HeldMessages

# Tests only (`install`): clients and a launcher to build the handlers from, instead of
# the environment's.
_installed: tuple[Clients, Launcher | None] | None = None


def install(clients: Clients | None, launcher: Launcher | None = None) -> None:
    """Tests only: build every handler from `clients` (in-memory fakes) and, when given,
    `launcher`; `None` goes back to the environment's. Handlers built before are dropped."""
    global _installed
    _installed = None if clients is None else (clients, launcher)
    for built in list(globals().values()):  # every @functools.cache builder below
        if callable(getattr(built, "cache_clear", None)):
            built.cache_clear()


def _clients() -> Clients:
    if _installed is not None:
        return _installed[0]  # the tests' own: pytest owns their logging
    # A missing or invalid setting raises SettingError here, naming the variables: the
    # request fails with 500 and the framework logs the message (no secret's value).
    clients = for_process()
    s = clients.settings
    logs.configure(s.project, s.log_level, s.secret_values())
    return clients


@functools.cache
def webhook() -> WebhookHandler:
    c = _clients()
    s = c.settings
    s.require("whatsapp_app_secret", "whatsapp_verify_token")
    return WebhookHandler(app_secret=s.whatsapp_app_secret, verify_token=s.whatsapp_verify_token,
                          default_language=s.default_language, store=c.store,
                          inbound=c.guard("inboundMessages"), whatsapp=c.whatsapp,
                          instagram=c.instagram, signer=c.signer,
                          limiter=c.rate_limiter(s.commands_per_minute), phones=c.phones,
                          statuses=StatusHandler(c.deliveries, c.store, c.guard("notifications"),
                                                 c.publisher, held_messages(c)),
                          taps=TapHandler(c.store, c.guard("retryTaps"), c.publisher,
                                          c.whatsapp),
                          new_jobs_per_minute=s.new_jobs_per_minute,
                          standby_publisher=c.publisher if s.standby_seconds else None)


@functools.cache
def oauth() -> OAuthHandler:
    c = _clients()
    return OAuthHandler(store=c.store, signer=c.signer, cipher=c.token_sealer,
                        instagram=c.instagram, whatsapp=c.whatsapp, publisher=c.publisher)


@functools.cache
def launcher() -> Launcher:
    if _installed is not None and _installed[1] is not None:
        return _installed[1]
    s = _clients().settings
    if s.dispatches_to_cloud_run and s.cloud_run_job_name:
        return CloudRunLauncher.build(s.project, s.cloud_run_region, s.cloud_run_job_name,
                                      s.cloud_run_api_endpoint)
    return LocalProcessLauncher(warm=s.local_job_start == "warm")


@functools.cache
def dispatcher() -> Dispatcher:
    c = _clients()
    standbys = Standbys(c.store) if c.settings.standby_seconds else None
    return Dispatcher(c.store, launcher(), admission(), c.publisher, standbys)


@functools.cache
def admission() -> Admission | None:
    """None unless JIWA_ADMISSION_MAX_RUNNING is set (docs/decisions/0011)."""
    c = _clients()
    return admission_for(c.settings, c.firestore)


def guarded(subscription: str, topic: str) -> PoisonGuard:
    c = _clients()
    return PoisonGuard(c.firestore,
                       functools.partial(c.publisher.publish_dead_letter, topic),
                       subscription=subscription, max_attempts=MAX_DELIVERY_ATTEMPTS,
                       project=c.settings.project,
                       secrets=tuple(c.settings.secret_values()))


@functools.cache
def dispatcher_guard() -> PoisonGuard:
    return guarded("dispatcher-push", _clients().settings.requested_topic)


@functools.cache
def notifier_guard() -> PoisonGuard:
    return guarded("notifier-push", _clients().settings.progress_topic)


@functools.cache
def sweeper() -> Sweeper:
    c = _clients()
    s = c.settings
    return Sweeper(c.store, c.publisher, launcher(),
                   stale_heartbeat=timedelta(seconds=s.stale_heartbeat_seconds),
                   queued_timeout=timedelta(seconds=s.queued_timeout_seconds),
                   login_window=timedelta(seconds=s.oauth_state_ttl_seconds),
                   max_redispatches=s.max_redispatches, admission=admission())


@functools.cache
def notifier() -> Notifier:
    c = _clients()
    return Notifier(c.store, c.guard("notifications"), c.whatsapp, c.deliveries,
                    held_messages(c), c.pacer,
                    c.images if c.settings.image_bucket else None)


def held_messages(c: Clients) -> HeldMessages:
    return HeldMessages(c.window, c.guard("notifications"), c.whatsapp,
                        c.settings.whatsapp_reengage_template)

