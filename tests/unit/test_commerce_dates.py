"""The calendar knows the dates of Indonesian commerce, in Asia/Jakarta, and the Claude
stand-in uses what the prompt gives it: the products, their prices as written, the
language, the window and the dates that matter."""

from __future__ import annotations

from datetime import UTC, date, datetime

from jiwa.commerce_dates import dates_between, planning_window
from jiwa.dev.anthropic_standin import answer
from jiwa.dev.faults import FaultPlan
from jiwa.waves.calendar import calendar_prompt


def test_the_dates_that_matter_in_december() -> None:
    found = {(d.day, d.id) for d in dates_between(date(2026, 11, 29), date(2026, 12, 31))}
    assert {(date(2026, 11, 30), "Gajian (akhir bulan)"),
            (date(2026, 12, 12), "Harbolnas 12.12 (Hari Belanja Online Nasional)"),
            (date(2026, 12, 22), "Hari Ibu"), (date(2026, 12, 25), "Hari Raya Natal"),
            (date(2026, 12, 31), "Malam Tahun Baru")} <= found


def test_lebaran_and_ramadan_come_from_the_decree_or_are_marked_estimates() -> None:
    # 2026: the joint decree's dates (Idul Fitri 21-22 March), as the holidays package has
    lebaran = [d for d in dates_between(date(2026, 1, 1), date(2026, 12, 31))
               if d.id.startswith("Hari Raya Idul Fitri")]
    assert [d.day for d in lebaran] == [date(2026, 3, 21)]
    assert "perkiraan" not in lebaran[0].id
    # 2027: before its decree, computed and marked as an estimate, in both languages
    ahead = [d for d in dates_between(date(2027, 1, 1), date(2027, 3, 31))
             if "Idul Fitri" in d.id]
    assert ahead[0].day == date(2027, 3, 10)
    assert all("perkiraan" in d.id and "estimated" in d.en for d in ahead)
    ramadan = [d for d in dates_between(date(2027, 1, 1), date(2027, 3, 31))
               if d.id.startswith("Awal Ramadan")]
    assert [d.day for d in ramadan] == [date(2027, 2, 8)]
    assert [d.en for d in dates_between(date(2027, 11, 11), date(2027, 11, 11))] == \
        ["11.11 twin-date sale"]


def test_the_window_is_in_jakarta_from_the_day_after_the_job_began() -> None:
    # 18:00 UTC on the 28th is 01:00 on the 29th in Jakarta (UTC+7)
    assert planning_window(datetime(2026, 11, 28, 18, 0, tzinfo=UTC)) == (
        date(2026, 11, 30), date(2026, 12, 13))
    assert planning_window(datetime(2026, 11, 28, 16, 0, tzinfo=UTC))[0] == date(2026, 11, 29)


OUTPUTS = {"profile": {"profile": {"name": "Kopi Senja"}},
           "brand": {"voice": "hangat", "audience": "anak muda", "values": ["lokal"]},
           "products": {"products": [{"name": "Kopi Susu Gula Aren", "price": "Rp25.000"},
                                     {"name": "Es Kopi Pandan", "price": "28rb"}]},
           "influencers": {"matches": [{"name": "Rara", "niche": "kopi"}]}}


def test_the_calendar_prompt_and_the_standins_answer_use_the_dates_and_prices() -> None:
    prompt = calendar_prompt(OUTPUTS, 6, "id", datetime(2026, 11, 28, 18, 0, tzinfo=UTC))
    assert "from 2026-11-30 to 2026-12-13" in prompt
    assert "- date: 2026-12-12 | Harbolnas 12.12 (Hari Belanja Online Nasional)" in prompt
    assert "- product: Es Kopi Pandan | price 28rb" in prompt
    calendar = answer("ContentCalendar", prompt, FaultPlan())
    by_day = {p["date"]: p for p in calendar["posts"]}
    assert len(by_day) == 6 and min(by_day) == "2026-11-30"
    assert by_day["2026-12-12"]["caption"].startswith("Harbolnas 12.12")
    assert "Kopi Susu Gula Aren Rp25.000 dari Kopi Senja" in by_day["2026-11-30"]["caption"]
    assert "2026-12-12 Harbolnas 12.12" in calendar["summary"]
    assert calendar["summary"].startswith("6 posting selama dua minggu")


def test_the_standin_answers_with_the_products_and_prices_it_was_given() -> None:
    prompt = ("Business name: Nasi Bakar Mak Ijah\n- product: Nasi Bakar Ayam Suwir | price "
              "20rb\n- product: Es Teh Manis Jumbo | price Rp5.000\n- product: Sambal\n")
    assert [(p["name"], p["price"]) for p in
            answer("ProductList", prompt, FaultPlan())["products"]] == [
        ("Nasi Bakar Ayam Suwir", "20rb"), ("Es Teh Manis Jumbo", "Rp5.000"), ("Sambal", "")]
    english = answer("BrandProfile", "Business name: K\nWrite the summary in English.",
                     FaultPlan())
    indonesian = answer("BrandProfile", "Business name: K\nWrite the summary in Indonesian.",
                        FaultPlan())
    assert english["summary"].startswith("K is a warm")
    assert indonesian["summary"].startswith("K adalah brand")
