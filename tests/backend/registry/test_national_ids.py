"""National number checks: the NIK's structure, its agreement with the record, other formats."""

import datetime as dt

from backend.registry import national_ids
from backend.registry.national_ids import check_nik, check_thai, make_nik, make_thai, validate

BORN = dt.date(1990, 5, 17)


def test_a_mans_nik_carries_his_birth_date_as_is():
    number = "3171011705900001"
    assert check_nik(number, BORN, "M") is None


def test_a_womans_nik_adds_forty_to_the_day():
    number = "3171015705900001"
    assert check_nik(number, BORN, "F") is None


def test_a_womans_day_on_a_mans_record_is_refused_naming_the_sex():
    problem = check_nik("3171015705900001", BORN, "M")
    assert "woman" in problem


def test_an_unknown_province_code_is_refused_with_the_code():
    assert check_nik("1071011705900001") == "province code 10 does not exist"


def test_a_day_that_does_not_exist_is_refused():
    assert "not a date" in check_nik("3171013102900001")  # 31 February


def test_a_womans_day_beyond_seventy_one_is_refused():
    assert "not a date" in check_nik("3171017205900001")  # 72 - 40 = 32


def test_the_twenty_ninth_of_february_of_a_leap_year_is_a_date():
    assert check_nik("3171012902000001", dt.date(2000, 2, 29), "M") is None


def test_sequence_zero_is_never_issued():
    assert check_nik("3171011705900000") == "sequence number 0000 is not issued"


def test_a_nik_has_sixteen_digits():
    assert check_nik("317101170590001") == "a NIK has 16 digits"
    assert check_nik("31710117059000A1") == "a NIK has 16 digits"


def test_a_birth_date_other_than_the_niks_is_refused_with_both_dates():
    problem = check_nik("3171011705900001", dt.date(1991, 5, 17), "M")
    assert "17-05-90" in problem and "1991-05-17" in problem


def test_zero_regency_or_district_is_refused():
    assert "regency" in check_nik("3100011705900001")
    assert "district" in check_nik("3171001705900001")


def test_make_nik_builds_what_check_nik_accepts():
    for sex in "FM":
        number = make_nik("3578081010", BORN, sex, 42)
        assert check_nik(number, BORN, sex) is None


def test_a_thai_number_needs_its_check_digit():
    valid = make_thai("110170020345")
    assert check_thai(valid) is None
    wrong = valid[:-1] + str((int(valid[-1]) + 1) % 10)
    assert "check digit" in check_thai(wrong)


def test_a_thai_number_worked_by_hand():
    # 1*13 + 1*12 + 0*11 + 1*10 + 7*9 + 0*8 + 0*7 + 2*6 + 0*5 + 3*4 + 4*3 + 5*2 = 144;
    # 144 mod 11 = 1; (11 - 1) mod 10 = 0.
    assert check_thai("1101700203450") is None
    assert check_thai("1101700203451") == "check digit is 1, expected 0"


def test_numbers_are_normalised_before_the_check():
    number, problems = validate("3171-0117 0590 0001", ["nik"], BORN, "M")
    assert (number, problems) == ("3171011705900001", [])


def test_each_configured_format_says_its_own_problem():
    _, problems = validate("12345", ["nik", "thai"])
    assert [p.format for p in problems] == ["nik", "thai"]


def test_a_format_not_configured_does_not_accept():
    thai = make_thai("110170020345")
    assert validate(thai, ["nik"])[1]
    assert validate(thai, ["nik", "thai"])[1] == []


def test_generic_accepts_letters_and_digits_only():
    assert validate("AB12345", ["generic"])[1] == []
    assert validate("AB 12/345", ["generic"])[1]


def test_the_province_list_has_the_38_provinces():
    assert len(national_ids.PROVINCES) == 38
    assert {"11", "31", "65", "91", "96"} <= national_ids.PROVINCES.keys()
