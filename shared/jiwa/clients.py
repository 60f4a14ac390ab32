"""Builds the real clients from settings, once per process (warm starts reuse them)."""

from __future__ import annotations

import contextlib
import functools
import os
import ssl
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from jiwa.events import EventPublisher
from jiwa.settings import MissingSettingError, Settings
from jiwa.store import JobStore

# The rest is imported where it is built: the job builds only the store and the publisher
# before its first progress event, and httpx alone costs it a few hundred milliseconds of
# a cold start (bench/start.py). Each function builds the few it needs.
if TYPE_CHECKING:
    import httpx

    from jiwa.crypto import PhoneDigest, StateSigner
    from jiwa.deliveries import DeliveryLog
    from jiwa.guards import RateLimiter, SendGuard
    from jiwa.image_store import ImageStore
    from jiwa.instagram import InstagramClient
    from jiwa.pacing import PairPacer
    from jiwa.sealed_tokens import Decrypts, Encrypts
    from jiwa.whatsapp import WhatsAppClient
    from jiwa.window import ConversationWindow


@functools.cache
def shared_tls() -> ssl.SSLContext:
    """One TLS context for every HTTP client of the process, as httpx would make it
    (SSL_CERT_FILE or certifi's bundle). httpx makes a new one for each client, loading the
    CA bundle again: 47 ms of CPU a client here, and the job makes four before the brand
    call (Instagram, the site reader, the image downloads, Claude)."""
    import httpx

    return httpx.create_ssl_context()


class Clients:
    """Lazily built, cached clients for one settings object."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @functools.cached_property
    def firestore(self) -> Any:
        from google.cloud import firestore

        return firestore.Client(project=self.settings.project)

    @functools.cached_property
    def store(self) -> JobStore:
        # One login window: the sweeper expires logins after the same TTL as the state.
        from jiwa.queries import QueryLog

        window = timedelta(seconds=self.settings.oauth_state_ttl_seconds)
        log = QueryLog(self.settings.query_log) if self.settings.query_log else None
        # The key only where it is deployed (the webhook, the notifier, the operator's
        # CLI): the job, the dispatcher and the sweeper never look a job up by phone.
        phones = self.phones if self.settings.phone_digest_key else None
        return JobStore(self.firestore, login_window=window, on_query=log, phones=phones)

    @functools.cached_property
    def phones(self) -> PhoneDigest:
        from jiwa.crypto import PhoneDigest

        self.settings.require("phone_digest_key")
        return PhoneDigest(self.settings.phone_digest_key)

    @functools.cached_property
    def publisher(self) -> EventPublisher:
        s = self.settings
        return EventPublisher(s.project, s.requested_topic, s.progress_topic)

    @functools.cached_property
    def http(self) -> httpx.Client:
        import httpx

        # httpx owns transient-connection retries (transport retries=2); Pub/Sub or
        # WhatsApp redelivery owns everything above that.
        return httpx.Client(timeout=httpx.Timeout(10.0, connect=5.0),
                            transport=httpx.HTTPTransport(retries=2, verify=shared_tls()))

    @functools.cached_property
    def images(self) -> ImageStore:
        from jiwa.image_store import ImageStore

        s = self.settings
        s.require("image_bucket")
        return ImageStore.connect(s.image_bucket, s.project)

    def image_bucket(self, bucket: str) -> ImageStore:
        """Our image copies in `bucket` (the operator's CLI reads the bucket a record names)."""
        from jiwa.image_store import ImageStore

        return ImageStore.connect(bucket, self.settings.project)

    @functools.cached_property
    def whatsapp(self) -> WhatsAppClient:
        from jiwa.whatsapp import WhatsAppClient

        s = self.settings
        s.require("whatsapp_access_token", "whatsapp_phone_number_id")
        return WhatsAppClient(self.http, s.meta_graph_url, s.graph_api_version,
                              s.whatsapp_phone_number_id, s.whatsapp_access_token)

    @functools.cached_property
    def instagram(self) -> InstagramClient:
        from jiwa.instagram import InstagramClient

        s = self.settings
        s.require("instagram_app_id", "instagram_redirect_uri")
        return InstagramClient(self.http, app_id=s.instagram_app_id,
                               app_secret=s.instagram_app_secret,
                               redirect_uri=s.instagram_redirect_uri,
                               auth_url=s.instagram_auth_url, api_url=s.instagram_api_url,
                               graph_url=s.instagram_graph_url, version=s.graph_api_version)

    @functools.cached_property
    def signer(self) -> StateSigner:
        from jiwa.crypto import StateSigner

        self.settings.require("oauth_state_secret")
        return StateSigner(self.settings.oauth_state_secret,
                           self.settings.oauth_state_ttl_seconds)

    @functools.cached_property
    def token_sealer(self) -> Encrypts:
        """The OAuth callback's side: sealed to TOKEN_PUBLIC_KEY when it is set (it can
        encrypt, not decrypt); else the old AES key (decision 0012)."""
        from jiwa.crypto import TokenCipher
        from jiwa.sealed_tokens import TokenSealer

        if self.settings.token_public:
            return TokenSealer(self.settings.token_public)
        self.settings.require("token_encryption_key")
        return TokenCipher(self.settings.token_encryption_key)

    @functools.cached_property
    def token_opener(self) -> Decrypts:
        """The job's side: v2 with TOKEN_PRIVATE_KEY, v1 with TOKEN_ENCRYPTION_KEY."""
        from jiwa.crypto import TokenCipher
        from jiwa.sealed_tokens import TokenOpener

        s = self.settings
        if not (s.token_private_key or s.token_encryption_key):
            raise MissingSettingError(
                "missing required setting(s): TOKEN_PRIVATE_KEY (or TOKEN_ENCRYPTION_KEY, "
                "for tokens stored before decision 0012; see README 'Configuration')")
        legacy = TokenCipher(s.token_encryption_key) if s.token_encryption_key else None
        return TokenOpener(s.token_private_key, legacy)

    @functools.cached_property
    def deliveries(self) -> DeliveryLog:
        from jiwa.deliveries import DeliveryLog

        return DeliveryLog(self.firestore)

    @functools.cached_property
    def window(self) -> ConversationWindow:
        from jiwa.window import ConversationWindow

        return ConversationWindow(self.firestore, self.phones)

    @functools.cached_property
    def pacer(self) -> PairPacer:
        from jiwa.pacing import PairPacer, PairRate

        s = self.settings
        return PairPacer(self.firestore, PairRate(s.whatsapp_pair_interval_seconds,
                                                  s.whatsapp_pair_burst), self.phones,
                         max_wait=s.whatsapp_pacing_max_wait_seconds)

    def guard(self, collection: str) -> SendGuard:
        from jiwa.guards import SendGuard

        return SendGuard(self.firestore, collection)

    def rate_limiter(self, limit: int) -> RateLimiter:
        from jiwa.guards import RateLimiter

        return RateLimiter(self.firestore, limit)


_CACHED: dict[str, Clients] = {}


def for_process(settings: Settings | None = None) -> Clients:
    """The process-wide clients, created on first use (a function's cold start)."""
    if "default" not in _CACHED:
        _CACHED["default"] = Clients(settings or Settings.from_env(required=["project"]))
    return _CACHED["default"]


_ENV_LOCK = threading.Lock()


@contextlib.contextmanager
def emulator_env(name: str, host: str) -> Iterator[None]:
    """`name` (PUBSUB_EMULATOR_HOST, FIRESTORE_EMULATOR_HOST) set to `host` while a client
    is built, then put back. The Google clients take their emulator from the environment
    when they are built, and the environment is the whole process's: builders in threads
    (two local stacks starting at once) take turns."""
    with _ENV_LOCK:
        old = os.environ.get(name)
        os.environ[name] = host
        try:
            yield
        finally:
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old
