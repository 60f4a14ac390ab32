"""The dates that matter to Indonesian commerce, for the content calendar: public holidays,
Ramadan and Lebaran, the twin-date sales (11.11, and Harbolnas on 12.12) and payday at the
end of the month. Dates are days in the business's time zone (Asia/Jakarta by default).

Sources:
- Public holidays: the `holidays` package's Indonesia calendar (vacanza/holidays), which
  follows each year's joint decree (SKB 3 Menteri; for 2026 the decree of 19 November
  2025) and, for a year whose decree is not out yet, computes the Islamic holidays from
  the Hijri calendar and marks them "perkiraan" (estimate): the government fixes them
  by sidang isbat. Upgrading the package brings each new decree.
- Ramadan's first day: 30 days before Idul Fitri (a Hijri month has 29 or 30 days, so
  it is always marked an estimate).
- Harbolnas: every 12 December since 2012 (idEA, the Indonesian e-commerce association;
  Kompas Tekno, 12/12/2020 "Sejarah Harbolnas"); the marketplaces hold twin-date sales
  on the other m.m days (Shopee's 11.11 and the rest, Suara.com 29/11/2021).
- Commercial days that are not public holidays (Valentine's, Kartini, National Batik
  Day, Mother's Day on 22 December, New Year's Eve): fixed dates, every year.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

JAKARTA = ZoneInfo("Asia/Jakarta")


@dataclass(frozen=True)
class CommerceDate:
    day: date
    id: str  # the name in Indonesian
    en: str  # and in English

    def name(self, language: str) -> str:
        return self.id if language == "id" else self.en


# (month, day): commercial days that are no public holiday, every year.
COMMERCIAL = {
    (2, 14): ("Hari Valentine", "Valentine's Day"),
    (4, 21): ("Hari Kartini", "Kartini Day"),
    (10, 2): ("Hari Batik Nasional", "National Batik Day"),
    (12, 22): ("Hari Ibu", "Mother's Day (Indonesia)"),
    (12, 31): ("Malam Tahun Baru", "New Year's Eve"),
}
_LEBARAN = "Hari Raya Idul Fitri"  # the first day's name in the holidays package (id)


@cache
def public_holidays(year: int) -> dict[date, tuple[str, str]]:
    """Indonesia's public holidays in `year` (names in Indonesian and English), and the
    first day of Ramadan before that year's Lebaran."""
    import holidays  # only the calendar wave needs it

    names_id = holidays.country_holidays("ID", years=year, language="id")
    names_en = holidays.country_holidays("ID", years=year, language="en_US")
    found = {day: (str(names_id[day]), str(names_en[day])) for day in names_id}
    for day, (name, _) in list(found.items()):
        if name.startswith(_LEBARAN):
            found.setdefault(day - timedelta(days=30),
                             ("Awal Ramadan (perkiraan)", "Ramadan begins (estimate)"))
    return found


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
    holidays_by_day = {day: names for year in range(start.year, end.year + 1)
                       for day, names in public_holidays(year).items()}
    found = []
    day = start
    while day <= end:
        for names in (holidays_by_day.get(day), COMMERCIAL.get((day.month, day.day)),
                      _sales(day)):
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
