"""Everything the user reads, in Indonesian and English."""

from __future__ import annotations

from dataclasses import dataclass

from jiwa.buttons import calendar_id, retry_id
from jiwa.events import ProgressEvent, ProgressKind

LANGUAGES = ("id", "en")
BUTTON_BODY_LIMIT = 1024  # an interactive message's body (Meta's Cloud API reference)

TEXTS: dict[str, dict[str, str]] = {
    "login_link": {
        "id": "Halo{name}! Untuk mulai, hubungkan akun Instagram bisnis Anda lewat tautan ini "
              "(berlaku 15 menit):",
        "en": "Hi{name}! To get started, connect your Instagram business account with this "
              "link (valid for 15 minutes):",
    },
    "login_button": {"id": "Hubungkan Instagram", "en": "Connect Instagram"},
    "queued": {  # admission (jiwa.admission): told once, when the job joins the line
        "id": "Banyak yang sedang mendaftar. Anda di antrean nomor {position}; onboarding "
              "Anda mulai sekitar {minutes} menit lagi. Kami kabari di sini.",
        "en": "Lots of people are signing up right now. You are number {position} in line; "
              "your onboarding starts in about {minutes} minutes. We'll message you here.",
    },
    "already_running": {
        "id": "Onboarding Anda sedang berjalan ({status}, tahap {wave} dari 9). "
              "Kami kabari setiap langkahnya di sini.",
        "en": "Your onboarding is already under way ({status}, step {wave} of 9). "
              "We'll keep you posted here.",
    },
    "status_none": {
        "id": "Belum ada onboarding. Kirim /daftar untuk mulai.",
        "en": "No onboarding yet. Send /register to start.",
    },
    "status": {
        "id": "Status onboarding: {status}, tahap {wave} dari 9.",
        "en": "Onboarding status: {status}, step {wave} of 9.",
    },
    "help": {
        "id": "Perintah: /daftar untuk mulai onboarding, /status untuk melihat progres.",
        "en": "Commands: /register to start onboarding, /status to see progress.",
    },
    "media_hint": {
        "id": "Terima kasih! Saya membaca perintah teks: kirim /daftar untuk mulai onboarding, "
              "atau /status untuk melihat progres.",
        "en": "Thanks! I read text commands: send /register to start your onboarding, or "
              "/status to see how it is going.",
    },
    "rate_limited": {
        "id": "Terlalu banyak permintaan. Coba lagi sebentar lagi.",
        "en": "Too many requests. Please try again in a moment.",
    },
    "busy_new_jobs": {  # the global brake on new onboardings (JIWA_NEW_JOBS_PER_MINUTE)
        "id": "Banyak sekali yang mendaftar saat ini. Mohon kirim /daftar lagi dalam beberapa "
              "menit.",
        "en": "A great many people are signing up right now. Please send /register again in a "
              "few minutes.",
    },
    "accepted": {
        "id": "Instagram @{handle} terhubung! Kami mulai menyiapkan semuanya untuk Anda…",
        "en": "Instagram @{handle} connected! We're on it…",
    },
    "login_failed": {
        "id": "Login Instagram tidak selesai ({reason}). Kirim /daftar untuk mencoba lagi.",
        "en": "The Instagram login did not complete ({reason}). Send /register to try again.",
    },
    "completed": {
        "id": "Selesai! Analisis brand, kalender konten, dan {images} gambar Anda sudah siap.",
        "en": "Done! Your brand analysis, content calendar and {images} images are ready.",
    },
    "failed": {
        "id": "Maaf, terjadi kendala saat {step}: {reason}. Kirim /daftar untuk mencoba lagi.",
        "en": "Sorry, something went wrong while {step}: {reason}. Send /register to try again.",
    },
    "image_progress": {"id": "Membuat gambar {i} dari {n}…", "en": "Creating image {i} of {n}…"},
    "image_ready": {"id": "Gambar {i} dari {n}: {caption}", "en": "Image {i} of {n}: {caption}"},
    "all_images_ready": {"id": "Semua {n} gambar siap!", "en": "All {n} images ready!"},
    "calendar_intro": {"id": "Kalender konten Anda:", "en": "Your content calendar:"},
    # reply buttons (jiwa/buttons.py): titles of at most 20 characters (Meta's limit)
    "retry_button": {"id": "Coba lagi", "en": "Try again"},
    "calendar_button": {"id": "Lihat kalender", "en": "Show calendar"},
    "retry_started": {
        "id": "Baik, kami coba lagi dari langkah yang gagal. Kami kabari di sini.",
        "en": "OK, trying again from the step that failed. We'll keep you posted here.",
    },
    "retry_unavailable": {
        "id": "Percobaan ulang ini sudah tidak berlaku. Kirim /status untuk melihat progres, "
              "atau /daftar untuk mulai dari awal.",
        "en": "This retry is no longer available. Send /status to see progress, or /register "
              "to start over.",
    },
    "calendar_none": {
        "id": "Kalender belum tersedia. Kirim /status untuk melihat progres.",
        "en": "No calendar yet. Send /status to see progress.",
    },
}

WAVE_TEXTS: dict[str, dict[str, str]] = {
    "profile": {"id": "Mempelajari bisnis Anda…", "en": "Learning about your business…"},
    "website": {"id": "Membaca website Anda…", "en": "Reading your website…"},
    "brand": {"id": "Menganalisis brand Anda…", "en": "Analyzing your brand…"},
    "products": {"id": "Menyiapkan produk Anda…", "en": "Preparing your products…"},
    "influencers": {"id": "Mencari influencer AI yang cocok…",
                    "en": "Matching AI influencers…"},
    "calendar": {"id": "Menyusun kalender konten…", "en": "Planning your content calendar…"},
    "prompts": {"id": "Merancang konsep gambar…", "en": "Designing your images…"},
    "images": {"id": "Membuat gambar…", "en": "Creating images…"},
    "quality": {"id": "Memeriksa kualitas gambar…", "en": "Checking image quality…"},
}

WAVE_NAMES = tuple(WAVE_TEXTS)  # wave n is WAVE_NAMES[n - 1] (DESIGN.md's order)

SUMMARY_TITLES = {
    "brand": {"id": "Analisis brand", "en": "Brand analysis"},
    "products": {"id": "Produk unggulan", "en": "Featured products"},
    "influencers": {"id": "Influencer AI", "en": "AI influencers"},
    "calendar": {"id": "Kalender siap!", "en": "Calendar ready!"},
}

# Why an onboarding failed, by failure code (jiwa.failures.WaveFailedError.of): what the
# user reads after "Sorry, something went wrong while <step>: ".
FAILURE_REASONS: dict[str, dict[str, str]] = {
    "internal": {"en": "an unexpected error", "id": "kesalahan tak terduga"},
    "claude_unavailable": {"en": "our analysis service is busy",
                           "id": "layanan analisis kami sedang sibuk"},
    "claude_model_unavailable": {"en": "our analysis service is unavailable",
                                 "id": "layanan analisis kami sedang tidak tersedia"},
    "claude_refused": {"en": "our analysis service declined this request",
                       "id": "layanan analisis kami menolak permintaan ini"},
    "claude_cut_off": {"en": "our analysis came back incomplete",
                       "id": "hasil analisis kami tidak lengkap"},
    "claude_invalid": {"en": "our analysis came back malformed",
                       "id": "hasil analisis kami tidak valid"},
    "images_unavailable": {"en": "our image service is not responding",
                           "id": "layanan gambar kami tidak merespons"},
    "instagram_unavailable": {"en": "we could not read your Instagram",
                              "id": "kami tidak bisa membaca Instagram Anda"},
    "calendar_short": {"en": "the calendar came back incomplete",
                       "id": "kalender yang dibuat tidak lengkap"},
    "login_expired": {"en": "the login link expired",
                      "id": "tautan login sudah kedaluwarsa"},
    "job_lost": {"en": "the work stopped unexpectedly", "id": "proses berhenti tanpa diduga"},
}

# Why a login did not finish, for "The Instagram login did not complete ({reason})".
LOGIN_FAILURES: dict[str, dict[str, str]] = {
    "login_expired": {"en": "the link expired", "id": "tautan sudah kedaluwarsa"},
    "login_denied": {"en": "the login was cancelled", "id": "login dibatalkan"},
    "login_failed": {"en": "Instagram did not accept the login",
                     "id": "Instagram tidak menerima login"},
}

# The page the browser shows after the Instagram login: (title, body) by language.
LOGIN_PAGES: dict[str, dict[str, tuple[str, str]]] = {
    "connected": {
        "en": ("Instagram connected", "Return to WhatsApp: your onboarding has started."),
        "id": ("Instagram terhubung", "Kembali ke WhatsApp: onboarding Anda sudah dimulai."),
    },
    "already": {
        "en": ("Already connected", "This login link was already used. Return to WhatsApp."),
        "id": ("Sudah terhubung", "Tautan login ini sudah dipakai. Kembali ke WhatsApp."),
    },
    "denied": {
        "en": ("Login cancelled", "You cancelled the Instagram login. Send /daftar on "
                                  "WhatsApp to try again."),
        "id": ("Login dibatalkan", "Anda membatalkan login Instagram. Kirim /daftar di "
                                   "WhatsApp untuk mencoba lagi."),
    },
    "expired": {
        "en": ("Link expired", "This login link has expired. Send /daftar on WhatsApp for a "
                               "new one."),
        "id": ("Tautan kedaluwarsa", "Tautan login ini sudah kedaluwarsa. Kirim /daftar di "
                                     "WhatsApp untuk tautan baru."),
    },
    "invalid": {
        "en": ("Invalid link", "This login link is not valid. Send /daftar on WhatsApp for a "
                               "new one."),
        "id": ("Tautan tidak valid", "Tautan login ini tidak valid. Kirim /daftar di WhatsApp "
                                     "untuk tautan baru."),
    },
    "failed": {
        "en": ("Login failed", "We could not finish the Instagram login. We sent you a "
                               "message on WhatsApp."),
        "id": ("Login gagal", "Kami tidak bisa menyelesaikan login Instagram. Kami sudah "
                              "mengirim pesan di WhatsApp."),
    },
}


def login_page(key: str, language: str | None) -> list[tuple[str, str, str]]:
    """(language, title, body) for the page: in the user's language when the job is known,
    else in both (a link we cannot read does not say whose it is)."""
    pages = LOGIN_PAGES[key]
    languages = [language] if language in LANGUAGES else list(LANGUAGES)
    return [(lang, *pages[lang]) for lang in languages]


STEP_NAMES = {
    "id": "menyiapkan onboarding", "en": "preparing your onboarding",
}


def text(key: str, language: str, **values: object) -> str:
    table = TEXTS[key]
    return table.get(language, table["en"]).format(**values)


@dataclass(frozen=True)
class Outgoing:
    body: str
    image_url: str | None = None
    buttons: tuple[tuple[str, str], ...] = ()  # (id, title) reply buttons under the body


def render(event: ProgressEvent, language: str) -> Outgoing:
    """The one WhatsApp message an event becomes."""
    lang = language if language in LANGUAGES else "en"
    p = event.payload
    match event.kind:
        case ProgressKind.ACCEPTED if "queue_position" in p:  # admission: in line
            return Outgoing(text("queued", lang, position=p["queue_position"],
                                 minutes=p.get("eta_minutes", "?")))
        case ProgressKind.ACCEPTED:
            return Outgoing(text("accepted", lang, handle=p.get("handle", "")))
        case ProgressKind.WAVE:
            table = WAVE_TEXTS.get(event.wave_name)
            return Outgoing(table[lang] if table else f"{event.wave}/9…")
        case ProgressKind.SUMMARY:
            title = SUMMARY_TITLES.get(event.wave_name, {}).get(lang, event.wave_name)
            return Outgoing(f"{title}\n{p.get('summary', '')}".strip())
        case ProgressKind.IMAGE_PROGRESS:
            return Outgoing(text("image_progress", lang, i=event.image_index,
                                 n=event.image_count))
        case ProgressKind.IMAGE_READY:
            caption = text("image_ready", lang, i=event.image_index, n=event.image_count,
                           caption=p.get("caption", ""))
            return Outgoing(caption, image_url=p.get("url"))
        case ProgressKind.COMPLETED:
            if p.get("images", "0") != "0":
                body = (f"{text('all_images_ready', lang, n=p['images'])}\n"
                        f"{text('calendar_intro', lang)}\n{p.get('calendar', '')}")
                # a button message's body holds 1,024 characters: a longer calendar goes
                # whole, as text, without the button
                fits = len(body) <= BUTTON_BODY_LIMIT
                return Outgoing(body, buttons=((calendar_id(event.job_id),
                                                text("calendar_button", lang)),) if fits else ())
            return Outgoing(text("completed", lang, images=p.get("images", "0")))
        case ProgressKind.FAILED:
            step = WAVE_TEXTS.get(event.wave_name, {}).get(lang, STEP_NAMES[lang])
            reason = p.get(f"reason_{lang}") or p.get("reason", "")
            body = text("failed", lang, step=step.rstrip("…").lower(), reason=reason)
            if not event.wave:  # not in a wave (the login expired…): /daftar starts over
                return Outgoing(body)
            return Outgoing(body, buttons=((retry_id(event.job_id, event.run,
                                                             event.wave),
                                            text("retry_button", lang)),))
    raise ValueError(f"no text for {event.kind}")


def detect_language(text_body: str, default: str) -> str:
    """Commands pick the language (/daftar vs /register); otherwise the default."""
    word = text_body.strip().lower().lstrip("/").split(" ", 1)[0] if text_body.strip() else ""
    if word in {"register", "start", "help", "hello", "hi"}:
        return "en"
    if word in {"daftar", "mulai", "bantuan", "halo"}:
        return "id"
    return default
