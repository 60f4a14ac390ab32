"""The dates that matter to Indonesian commerce, for the content calendar: public holidays,
Ramadan and Lebaran, the twin-date sales (11.11, and Harbolnas on 12.12) and payday at the
end of the month. Dates are days in the business's time zone (Asia/Jakarta by default).

Sources:
- Public holidays 2026: SKB 3 Menteri No. 1497/2025, 2/2025, 5/2025 of 19 November 2025
  (the joint decree of the ministers of religious affairs, manpower and administrative
  reform), as listed at pembelajaranbermaknaid.blogspot.com/2025/11/skb-3-menteri-rilis-
  daftar-cuti-bersama.html. Idul Fitri 1447 H: 21-22 March 2026 (Muhammadiyah's KHGT
  calendar sets 20 March 2026, Maklumat 01/MLM/I.1/B/2025, harian.disway.id).
- Harbolnas: every 12 December since 2012 (idEA, the Indonesian e-commerce association;
  Kompas Tekno, 12/12/2020 "Sejarah Harbolnas"); the marketplaces hold twin-date sales
  on the other m.m days (Shopee's 11.11 and the rest, Suara.com 29/11/2021).
- 2027: the fixed-date holidays, and Imlek (6 February), Good Friday (26 March), Easter
  (28 March) and Ascension (6 May) from the lunisolar and Easter computations. Ramadan,
  Idul Fitri and Idul Adha 1448 H are astronomical estimates (new moons of 6 February,
  8 March and 6 May 2027), marked "perkiraan": the government fixes them by sidang isbat,
  and no SKB for 2027 was found. Replace them when the SKB 3 Menteri 2027 is published.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

JAKARTA = ZoneInfo("Asia/Jakarta")


@dataclass(frozen=True)
class CommerceDate:
    day: date
    id: str  # the name in Indonesian
    en: str  # and in English

    def name(self, language: str) -> str:
        return self.id if language == "id" else self.en


# (month, day): names, every year.
FIXED = {
    (1, 1): ("Tahun Baru", "New Year's Day"),
    (2, 14): ("Hari Valentine", "Valentine's Day"),
    (4, 21): ("Hari Kartini", "Kartini Day"),
    (5, 1): ("Hari Buruh", "Labour Day"),
    (6, 1): ("Hari Lahir Pancasila", "Pancasila Day"),
    (8, 17): ("Hari Kemerdekaan RI", "Independence Day"),
    (10, 2): ("Hari Batik Nasional", "National Batik Day"),
    (12, 22): ("Hari Ibu", "Mother's Day (Indonesia)"),
    (12, 25): ("Natal", "Christmas"),
    (12, 31): ("Malam Tahun Baru", "New Year's Eve"),
}
# Movable holidays and seasons, by year (see the module's sources).
MOVABLE = {
    2026: [
        ("2026-01-16", "Isra Mikraj", "Isra Mi'raj"),
        ("2026-02-17", "Tahun Baru Imlek", "Chinese New Year"),
        ("2026-02-19", "Awal Ramadan (perkiraan)", "Ramadan begins (estimate)"),
        ("2026-03-19", "Hari Suci Nyepi", "Nyepi"),
        ("2026-03-21", "Idul Fitri (Lebaran)", "Eid al-Fitr (Lebaran)"),
        ("2026-03-22", "Idul Fitri (Lebaran)", "Eid al-Fitr (Lebaran)"),
        ("2026-04-03", "Wafat Yesus Kristus", "Good Friday"),
        ("2026-04-05", "Paskah", "Easter"),
        ("2026-05-14", "Kenaikan Yesus Kristus", "Ascension Day"),
        ("2026-05-27", "Idul Adha", "Eid al-Adha"),
        ("2026-05-31", "Waisak", "Vesak"),
        ("2026-06-16", "Tahun Baru Islam", "Islamic New Year"),
        ("2026-08-25", "Maulid Nabi", "The Prophet's Birthday"),
    ],
    2027: [
        ("2027-02-06", "Tahun Baru Imlek", "Chinese New Year"),
        ("2027-02-08", "Awal Ramadan (perkiraan)", "Ramadan begins (estimate)"),
        ("2027-03-10", "Idul Fitri (Lebaran, perkiraan)", "Eid al-Fitr (Lebaran, estimate)"),
        ("2027-03-26", "Wafat Yesus Kristus", "Good Friday"),
        ("2027-03-28", "Paskah", "Easter"),
        ("2027-05-06", "Kenaikan Yesus Kristus", "Ascension Day"),
        ("2027-05-17", "Idul Adha (perkiraan)", "Eid al-Adha (estimate)"),
    ],
}


def _sales(day: date) -> tuple[str, str] | None:
    if day.month == day.day == 12:
        return "Harbolnas 12.12 (Hari Belanja Online Nasional)", "Harbolnas 12.12 " \
            "(National Online Shopping Day)"
    if day.month == day.day:
        return f"Promo tanggal kembar {day.month}.{day.day}", \
            f"{day.month}.{day.day} twin-date sale"
    if day.day == calendar.monthrange(day.year, day.month)[1]:
        return "Gajian (akhir bulan)", "Payday (end of the month)"
    return None


def dates_between(start: date, end: date) -> list[CommerceDate]:
    """Every date that matters from `start` to `end`, both included, in order."""
    movable = {date.fromisoformat(d): (i, e) for year in range(start.year, end.year + 1)
               for d, i, e in MOVABLE.get(year, [])}
    found = []
    day = start
    while day <= end:
        for names in (FIXED.get((day.month, day.day)), movable.get(day), _sales(day)):
            if names:
                found.append(CommerceDate(day, *names))
        day += timedelta(days=1)
    return found


def planning_window(created: datetime | None, days: int = 14,
                    zone: ZoneInfo = JAKARTA) -> tuple[date, date]:
    """The calendar's first and last day: from the day after the job was created, in the
    business's time zone (a rerun plans the same window)."""
    moment = created or datetime.now(zone)
    first = moment.astimezone(zone).date() + timedelta(days=1)
    return first, first + timedelta(days=days - 1)
