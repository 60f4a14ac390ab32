"""The checks of `jiwa doctor`: one cheap, harmless call per external dependency.

Each check takes the settings and a timeout (seconds, for its one network call) and
returns a `Check`. A check never raises on a refusal it can explain; whatever else it
raises, the runner (`jiwa.cli.doctor`) turns into a failed line. Reasons are built from
status codes and our own words, never from the secrets we send.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import httpx

from jiwa import lifecycle
from jiwa.settings import Settings
from jiwa.topology import routes

FAL_PLATFORM_URL = "https://api.fal.ai"


@dataclass
class Check:
    name: str
    status: str  # "ok", "FAIL" or "skip" (not configured, and not needed)
    reason: str
    fix: str = ""
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.status == "FAIL"


def ok(name: str, reason: str) -> Check:
    return Check(name, "ok", reason)


def fail(name: str, reason: str, fix: str) -> Check:
    return Check(name, "FAIL", reason, fix)


def _unset(name: str, *variables: str) -> Check:
    return fail(name, ", ".join(variables) + " not set",
                "set " + ", ".join(variables) + " (README 'Configuration'; the secrets are "
                "in Secret Manager)")


def _required(name: str, **values: str) -> Check | None:
    """The failed line when any of these variables is unset."""
    missing = [variable for variable, value in values.items() if not value]
    return _unset(name, *missing) if missing else None


def _local(s: Settings) -> bool:
    """Pointed at the emulators: a local stack, not production."""
    return bool(s.firestore_emulator_host or s.pubsub_emulator_host)


# -- Claude ------------------------------------------------------------------------------
def claude(s: Settings, variable: str, timeout: float, today: date) -> Check:
    """Models API retrieve, GET /v1/models/{model_id}: the model is served to this key;
    then its end of life from the SDK's table (`jiwa.lifecycle`)."""
    name = f"claude {variable}"
    model = s.anthropic_model if variable == "ANTHROPIC_MODEL" else s.anthropic_score_model
    if not s.anthropic_api_key:
        return _unset(name, "ANTHROPIC_API_KEY")
    import anthropic

    client = anthropic.Anthropic(api_key=s.anthropic_api_key, base_url=s.anthropic_base_url,
                                 max_retries=0, timeout=timeout)
    change = f"set {variable} to a current model (Anthropic's models overview)"
    try:
        info = client.models.retrieve(model)
    except anthropic.NotFoundError:
        state = lifecycle.claude_model(model)
        if state.retired(today):
            return fail(name, f"{model} was retired on {state.ends} (404)", change)
        return fail(name, f"model {model} not found (404)", change)
    except anthropic.AuthenticationError:
        return fail(name, "ANTHROPIC_API_KEY was refused (401)",
                    "set ANTHROPIC_API_KEY to a key from console.anthropic.com")
    except anthropic.PermissionDeniedError:
        return fail(name, f"this key may not use {model} (403)",
                    f"allow the model for the key's workspace, or {change}")
    except anthropic.APIStatusError as exc:
        return fail(name, f"Anthropic answered {exc.status_code}", "try again; if it persists "
                    "see status.anthropic.com")
    except anthropic.APIConnectionError as exc:
        return fail(name, f"Anthropic unreachable ({type(exc).__name__})",
                    "check the network, or ANTHROPIC_BASE_URL (unset for the real API)")
    # An alias (claude-sonnet-4-5) resolves to a dated id: either may carry the date.
    ends = [e for e in (lifecycle.claude_model(m).ends for m in {model, info.id}) if e]
    served = model if info.id == model else f"{model} ({info.id})"
    if not ends:
        return ok(name, f"{served} is served; no retirement announced")
    end = min(ends)
    left = (end - today).days
    if left <= 0:
        return fail(name, f"{served} was retired on {end}", change)
    if left <= lifecycle.RETIREMENT_WARNING_DAYS:
        return fail(name, f"{served} retires on {end} (in {left} days)", change + " before then")
    return ok(name, f"{served} is served; retires on {end} (in {left} days)")


# -- fal ---------------------------------------------------------------------------------
def fal(s: Settings, timeout: float) -> Check:
    """fal's Platform API pricing, GET https://api.fal.ai/v1/models/pricing?endpoint_id=…:
    read-only, free, and "Authentication: Required" (docs.fal.ai/platform-apis/v1/models/
    pricing; API-scope keys are accepted, docs.fal.ai/platform-apis/authentication), so a
    200 says both that the key is accepted and that FAL_MODEL is an endpoint. fal-client
    has no key check of its own: its cheapest authenticated calls (the CDN token,
    `POST rest.fal.ai/storage/auth/token`, fal_client/client.py) create something."""
    name = "fal"
    if not s.fal_key:
        return _unset(name, "FAL_KEY")
    base = (s.fal_base_url or FAL_PLATFORM_URL).rstrip("/")
    response = httpx.get(f"{base}/v1/models/pricing", params={"endpoint_id": s.fal_model},
                         headers={"Authorization": f"Key {s.fal_key}"}, timeout=timeout)
    if response.status_code == 401:
        return fail(name, "FAL_KEY was refused (401)",
                    "set FAL_KEY to an API-scope key from fal.ai/dashboard/keys")
    if response.status_code == 403:
        return fail(name, "FAL_KEY lacks the scope for the pricing API (403)",
                    "use an API-scope key from fal.ai/dashboard/keys")
    if response.status_code == 404:
        return fail(name, f"FAL_MODEL={s.fal_model} is not a fal endpoint (404)",
                    "set FAL_MODEL to an endpoint id (default fal-ai/flux/schnell)")
    if response.status_code != 200:
        return fail(name, f"fal answered {response.status_code}",
                    "try again; if it persists see status.fal.ai")
    prices = [p for p in response.json().get("prices") or []
              if p.get("endpoint_id") == s.fal_model]
    if not prices:
        return fail(name, f"FAL_MODEL={s.fal_model} has no price: not a fal endpoint",
                    "set FAL_MODEL to an endpoint id (default fal-ai/flux/schnell)")
    p = prices[0]
    return ok(name, f"key accepted; {s.fal_model} costs {p.get('unit_price')} "
                    f"{p.get('currency', '')} per {p.get('unit', 'unit')}")


# -- Meta ----------------------------------------------------------------------------------
def whatsapp(s: Settings, timeout: float) -> Check:
    """The phone number node, GET /{version}/{phone_number_id}?fields=display_phone_number,
    verified_name with the Bearer token (Meta's WhatsApp Business Account Phone Number API
    reference). A bad token answers 401 with code 190; an id that does not exist, or that
    this token may not read, 400 with code 100 (Meta's Cloud API error codes page)."""
    name = "whatsapp"
    if unset := _required(name, WHATSAPP_ACCESS_TOKEN=s.whatsapp_access_token,
                          WHATSAPP_PHONE_NUMBER_ID=s.whatsapp_phone_number_id):
        return unset
    version = s.graph_api_version
    url = f"{s.meta_graph_url.rstrip('/')}/{version}/{s.whatsapp_phone_number_id}"
    response = httpx.get(url, params={"fields": "display_phone_number,verified_name"},
                         headers={"Authorization": f"Bearer {s.whatsapp_access_token}"},
                         timeout=timeout)
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        body = {}
    code = (body.get("error") or {}).get("code")
    answer = f"{response.status_code}" + (f", code {code}" if code is not None else "")
    if code == 190 or response.status_code == 401:
        return fail(name, f"WHATSAPP_ACCESS_TOKEN was refused ({answer})",
                    "set WHATSAPP_ACCESS_TOKEN to a valid System User token "
                    "(Meta Business Settings > System users)")
    if code == 2500:
        return fail(name, f"Meta does not know Graph version {version} (code 2500)",
                    "set META_GRAPH_VERSION to a current version")
    if code == 100:
        return fail(name, f"phone number id {s.whatsapp_phone_number_id} does not exist or "
                          "this token may not read it (code 100)",
                    "set WHATSAPP_PHONE_NUMBER_ID to the id in WhatsApp Manager > API setup, "
                    "with a token of the same business")
    if response.status_code != 200:
        return fail(name, f"Meta answered {answer}",
                    "try again; if it persists see metastatus.com")
    served = response.headers.get("facebook-api-version")
    if served and served != version:
        return fail(name, f"Meta served {served} instead of {version}: {version} has expired",
                    "set META_GRAPH_VERSION to a current version")
    return ok(name, f"phone number {s.whatsapp_phone_number_id}: "
                    f"{body.get('display_phone_number', '?')} ({body.get('verified_name', '?')})")


def instagram(s: Settings) -> Check:
    """Configuration only: Instagram has no harmless call for an app alone."""
    name = "instagram"
    if unset := _required(name, INSTAGRAM_APP_ID=s.instagram_app_id,
                          INSTAGRAM_APP_SECRET=s.instagram_app_secret,
                          INSTAGRAM_REDIRECT_URI=s.instagram_redirect_uri):
        return unset
    uri = urlsplit(s.instagram_redirect_uri)  # a URL: the settings check that
    if uri.scheme != "https" and not _local(s):
        return fail(name, f"INSTAGRAM_REDIRECT_URI is {uri.scheme}, not https",
                    "set it to the https oauth_redirect_uri output of terraform, registered "
                    "in the Instagram app")
    return ok(name, f"app {s.instagram_app_id}, redirect {s.instagram_redirect_uri}")


def graph_version(s: Settings, today: date) -> Check:
    name = "graph version"
    version = s.graph_api_version
    state = lifecycle.graph_version(version)
    change = "set META_GRAPH_VERSION to a current version (jiwa/lifecycle.py, Meta's changelog)"
    if not state.known:
        return fail(name, f"META_GRAPH_VERSION={version} is not a Graph API version we know "
                          f"({', '.join(lifecycle.GRAPH_API_VERSIONS)})", change)
    left = state.days_left(today)
    if state.retired(today):
        return fail(name, f"{version} expired on {state.ends}", change)
    if state.retiring_soon(today):
        return fail(name, f"{version} expires on {state.ends} (in {left} days)", change)
    if state.ends is None:
        return ok(name, f"{version}: no end of life announced")
    return ok(name, f"{version} available until {state.ends} (in {left} days)")


# -- Google Cloud -----------------------------------------------------------------------------
def _google_failure(name: str, exc: Exception, what: str, create: str) -> Check:
    """The failed line for a Google API error; anything else is raised again."""
    from google.api_core import exceptions
    from google.auth.exceptions import DefaultCredentialsError

    if isinstance(exc, exceptions.NotFound):
        return fail(name, f"{what} not found", create)
    if isinstance(exc, exceptions.PermissionDenied | exceptions.Unauthenticated):
        return fail(name, f"no permission to read {what} ({type(exc).__name__})",
                    "run as an account with the viewer roles on the project")
    if isinstance(exc, DefaultCredentialsError):
        return fail(name, "no Google credentials", "gcloud auth application-default login")
    if isinstance(exc, exceptions.ServiceUnavailable | exceptions.DeadlineExceeded):
        return fail(name, f"{what} unreachable ({type(exc).__name__})",
                    "check the network (and FIRESTORE_EMULATOR_HOST / PUBSUB_EMULATOR_HOST "
                    "/ CLOUD_RUN_API_ENDPOINT: unset for the real services)")
    raise exc


def firestore(s: Settings, timeout: float) -> Check:
    """One document read (a document that need not exist)."""
    name = "firestore"
    if not s.project:
        return _unset(name, "GOOGLE_CLOUD_PROJECT")
    from google.cloud import firestore as fs

    try:
        fs.Client(project=s.project).collection("onboardingJobs").document(
            "doctor-probe").get(retry=None, timeout=timeout)
    except Exception as exc:
        return _google_failure(name, exc, f"the (default) database of {s.project}",
                               "terraform apply (google_firestore_database.default)")
    return ok(name, f"the (default) database of {s.project} answers")


def pubsub(s: Settings, timeout: float, subscriptions: bool) -> Check:
    """Topics (main, dead-letter), or subscriptions (push, tap, dead-letter: each on its
    topic), as `jiwa.topology` names them."""
    name = "pubsub subscriptions" if subscriptions else "pubsub topics"
    if not s.project:
        return _unset(name, "GOOGLE_CLOUD_PROJECT")
    from google.api_core.exceptions import NotFound
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    rs = routes(s.requested_topic, s.progress_topic)
    wanted = [(sub, topic) for r in rs for sub, topic in (
        (r.subscription, r.topic), (r.tap_subscription, r.topic),
        (r.dead_letter_subscription, r.dead_letter_topic))] if subscriptions else [
        (topic, topic) for r in rs for topic in (r.topic, r.dead_letter_topic)]
    problems = []
    try:
        client = (pubsub_v1.SubscriberClient() if subscriptions
                  else pubsub_v1.PublisherClient())

        def topic_of(resource: str) -> str:
            if subscriptions:
                path = client.subscription_path(s.project, resource)
                return str(client.get_subscription(request={"subscription": path},
                                                   retry=None, timeout=timeout).topic)
            return str(client.get_topic(request={"topic": client.topic_path(s.project,
                                                                            resource)},
                                        retry=None, timeout=timeout).name)

        for resource, topic in wanted:
            try:
                found = topic_of(resource).rsplit("/", 1)[-1]
            except NotFound:
                problems.append(resource)
                continue
            if found != topic:
                problems.append(f"{resource} (on {found}, not {topic})")
    except Exception as exc:
        return _google_failure(name, exc, f"Pub/Sub of {s.project}",
                               "check GOOGLE_CLOUD_PROJECT")
    if problems:
        return fail(name, "missing: " + ", ".join(problems), "terraform apply (google_pubsub_"
                    + ("subscription.push/tap/dead_letter)" if subscriptions
                       else "topic.main/dead_letter), or fix JIWA_*_TOPIC"))
    return ok(name, f"{len(wanted)} {name.split()[1]} exist")


def cloud_run_job(s: Settings, timeout: float) -> Check:
    """Jobs/GetJob on the job the dispatcher runs (NOT_FOUND: "Resource 'J' of kind 'JOB' in
    region 'R' in project 'P' does not exist.")."""
    name = "cloud run job"
    if not s.cloud_run_job_name:
        return Check(name, "skip", "CLOUD_RUN_JOB_NAME not set: the dispatcher starts the "
                                   "job as a local process")
    if not s.project:
        return _unset(name, "GOOGLE_CLOUD_PROJECT")
    from google.cloud import run_v2

    job = f"projects/{s.project}/locations/{s.cloud_run_region}/jobs/{s.cloud_run_job_name}"
    where = f"job {s.cloud_run_job_name} in {s.cloud_run_region} of {s.project}"
    try:
        if s.cloud_run_api_endpoint:  # a local stand-in of the Admin API: plaintext gRPC
            import grpc
            from google.cloud.run_v2.services.jobs.transports import JobsGrpcTransport

            channel = grpc.insecure_channel(s.cloud_run_api_endpoint)
            client = run_v2.JobsClient(transport=JobsGrpcTransport(channel=channel))
        else:
            client = run_v2.JobsClient()
        client.get_job(name=job, retry=None, timeout=timeout)
    except Exception as exc:
        return _google_failure(name, exc, where, "terraform apply (google_cloud_run_v2_job."
                               "jiwa), or set CLOUD_RUN_JOB_NAME / CLOUD_RUN_REGION to the "
                               "deployed job")
    return ok(name, f"{where} exists")


def all_checks(s: Settings, timeout: float,
               today: date) -> list[tuple[str, Callable[[], Check]]]:
    """Every check, by name, ready to run."""
    return [
        ("claude ANTHROPIC_MODEL", lambda: claude(s, "ANTHROPIC_MODEL", timeout, today)),
        ("claude ANTHROPIC_SCORE_MODEL",
         lambda: claude(s, "ANTHROPIC_SCORE_MODEL", timeout, today)),
        ("fal", lambda: fal(s, timeout)),
        ("whatsapp", lambda: whatsapp(s, timeout)),
        ("instagram", lambda: instagram(s)),
        ("graph version", lambda: graph_version(s, today)),
        ("firestore", lambda: firestore(s, timeout)),
        ("pubsub topics", lambda: pubsub(s, timeout, subscriptions=False)),
        ("pubsub subscriptions", lambda: pubsub(s, timeout, subscriptions=True)),
        ("cloud run job", lambda: cloud_run_job(s, timeout)),
    ]
