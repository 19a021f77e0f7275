"""The matcher alone: which pairs a clerk is shown, and which not (no database)."""

import datetime as dt

from backend.registry.dedup.keys import forms
from backend.registry.dedup.score import near_date, near_dates
from backend.registry.dedup.screen import Person, Screen

BORN = dt.date(1984, 3, 21)
PLACE = "3578081010"


def _found(existing, new):
    screen = Screen([Person(1, *existing)])
    return [p.existing_id for p in screen.check(Person(2, *new))]


def test_a_swapped_name_order_is_a_candidate():
    assert _found(("Budi Hartono Siregar", BORN, PLACE),
                  ("Siregar Budi Hartono", BORN, PLACE)) == [1]


def test_a_typo_in_the_name_is_a_candidate():
    assert _found(("Nurul Handayani", BORN, PLACE), ("Nurul Handayan1", BORN, PLACE)) == [1]
    assert _found(("Nurul Handayani", BORN, PLACE), ("Nrul Handayani", BORN, PLACE)) == [1]


def test_a_thai_name_in_another_romanisation_is_a_candidate():
    assert _found(("Somchai Srisuk", BORN, PLACE), ("Somchay Srisook", BORN, PLACE)) == [1]


def test_a_thai_name_in_thai_script_meets_its_romanisation():
    assert forms("สมชาย ศรีสุข").key == forms("Somchai Srisuk").key
    assert _found(("Somchai Srisuk", BORN, PLACE), ("สมชาย ศรีสุข", BORN, PLACE)) == [1]


def test_the_old_indonesian_spelling_is_a_candidate():
    assert _found(("Djoko Soesilo", BORN, PLACE), ("Joko Susilo", BORN, PLACE)) == [1]


def test_a_slip_in_the_birth_date_is_still_a_candidate_in_the_same_district():
    slipped = dt.date(1984, 3, 12)  # two digits swapped
    assert near_date(BORN, slipped) and slipped in near_dates(BORN)
    assert _found(("Budi Hartono Siregar", BORN, PLACE),
                  ("Budi Hartono Siregar", slipped, PLACE)) == [1]


def test_the_same_name_born_another_day_elsewhere_is_not_a_candidate():
    assert _found(("Budi Santoso", BORN, PLACE),
                  ("Budi Santoso", dt.date(1991, 8, 2), "3578221004")) == []


def test_twins_with_other_given_names_are_not_candidates():
    assert _found(("Ani Prasetyo", BORN, PLACE), ("Dewi Prasetyo", BORN, PLACE)) == []


def test_the_whole_registry_screen_finds_each_pair_once():
    people = [Person(1, "Budi Santoso", BORN, PLACE), Person(2, "Santoso Budi", BORN, PLACE),
              Person(3, "Agus Wibowo", BORN, PLACE),
              Person(4, "Budi Santoso", dt.date(1984, 3, 12), PLACE)]
    pairs = {(p.existing_id, p.new_id) for p in Screen(people).all_pairs()}
    assert pairs == {(1, 2), (1, 4), (2, 4)}
