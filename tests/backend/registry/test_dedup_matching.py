"""The matcher alone: which pairs a clerk is shown, and which not (no database)."""

import datetime as dt

from backend.registry.dedup.keys import forms
from backend.registry.dedup.score import near_date, near_dates
from backend.registry.dedup.screen import Person, Screen
from backend.registry.dedup.thai import romanise

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


OTHER_VILLAGE = "3578081003"  # the same district (357808), another village
SLIPPED = dt.date(1984, 3, 12)


def test_a_slip_in_the_date_and_a_dropped_middle_name_in_the_same_village():
    assert _found(("Dian Farhan Suryadi", BORN, PLACE), ("Dian Suryadi", SLIPPED, PLACE)) == [1]
    assert _found(("Dian Farhan Suryadi", BORN, PLACE),
                  ("Dian Suryadi", SLIPPED, OTHER_VILLAGE)) == []
    # the first name left out is how a sibling's name looks, not a dropped middle name
    assert _found(("Suryani Cahya Hartono", BORN, PLACE),
                  ("Cahya Hartono", SLIPPED, PLACE)) == []


def test_a_slip_in_the_date_and_a_typo_in_the_given_name_in_the_same_village():
    assert _found(("Hari Ayu", BORN, PLACE), ("Hari Aju", SLIPPED, PLACE)) == [1]
    assert _found(("Hari Ayu", BORN, PLACE), ("Hari Aju", SLIPPED, OTHER_VILLAGE)) == []


def test_a_typo_in_a_short_one_word_name_only_with_date_and_village():
    assert _found(("Rudi", BORN, PLACE), ("Mudi", BORN, PLACE)) == [1]
    assert _found(("Ayu", BORN, PLACE), ("Aku", BORN, PLACE)) == [1]
    assert _found(("Eko", BORN, PLACE), ("Ekm", BORN, OTHER_VILLAGE)) == []
    # four letters or more: one slip leaves most of the name, the district suffices
    assert _found(("Desi", BORN, PLACE), ("Deii", BORN, OTHER_VILLAGE)) == [1]
    assert _found(("Rudi", BORN, PLACE), ("Mudi", SLIPPED, OTHER_VILLAGE)) == []


def test_a_one_word_name_with_a_slipped_date_only_in_the_same_village():
    assert _found(("Zahra", BORN, PLACE), ("Zahra", SLIPPED, PLACE)) == [1]
    assert _found(("Joko", BORN, PLACE), ("Djoko", SLIPPED, PLACE)) == [1]
    assert _found(("Zahra", BORN, PLACE), ("Zahra", SLIPPED, OTHER_VILLAGE)) == []


def test_twins_one_letter_apart_are_not_candidates_but_a_typo_in_a_given_name_is():
    assert _found(("Tuti Wulandari", BORN, PLACE), ("Putri Wulandari", BORN, PLACE)) == []
    assert _found(("Sai Manisu", BORN, PLACE), ("Saisu Manisu", BORN, PLACE)) == []
    assert _found(("Hari Ayu", BORN, PLACE), ("Hari Aju", BORN, PLACE)) == [1]
    # one phonetic key, but other first sounds: two names
    assert _found(("Indah Wibisono", BORN, PLACE), ("Nadia Wibisono", BORN, PLACE)) == []
    assert _found(("Bayu Anggraini", BORN, PLACE), ("Bayoe Anggraini", BORN, PLACE)) == [1]


def test_common_rtgs_variants_meet_in_the_phonetic_key():
    assert forms("Arnan Panparnkaew").key == forms("Anan Panpankaeo").key
    assert forms("Thippthorn").key == forms("Thipthon").key
    assert forms("Sawad").key == forms("Sawat").key
    assert forms("Nual").key == forms("Nuan").key
    assert forms("Thigoon").key == forms("Thikun").key
    assert forms("Agung").key != forms("Akunk").key


def test_a_silent_thor_rua_under_the_thanthakhat_is_dropped():
    assert forms("จันทร์").key == forms("Chan").key
    assert _found(("ศรีจันทร์ สวัสดิ์เจริญใจ", BORN, PLACE),
                  ("Sijan Sawadcharoenjai", BORN, PLACE)) == [1]


def test_a_typo_in_thai_script_is_compared_in_the_script():
    assert _found(("ไล เสริฐศรีกุล", BORN, PLACE), ("ไล เสริฐศชีกุล", BORN, PLACE)) == [1]
    assert _found(("แก้ว เพ็ญบุญ", BORN, PLACE), ("แุ้ว เพ็ญบุญ", BORN, PLACE)) == [1]


def test_a_common_name_with_a_slipped_date_from_another_village_is_not_a_candidate():
    people = [Person(i, f"Warga{i} Nomor{i}", BORN + dt.timedelta(days=i % 300), PLACE)
              for i in range(3, 1203)]
    people += [Person(i, "Septi Sasongko", dt.date(1950, 1, 1) + dt.timedelta(days=i),
                      "3578011001") for i in range(2000, 2400)]
    people.append(Person(1, "Septi Sasongko", BORN, PLACE))
    people.append(Person(5000, "Ahmad Yusuf Pangaribuan", BORN, PLACE))
    screen = Screen(people)
    assert screen.check(Person(2, "Septi Sasongko", SLIPPED, OTHER_VILLAGE)) == []
    assert [p.existing_id for p in screen.check(
        Person(2, "Septi Sasongko", SLIPPED, PLACE))] == [1]
    # a rare name: the same slip from another village is still worth a clerk's look
    assert [p.existing_id for p in screen.check(
        Person(2, "Ahmad Yusuf Pangaribuan", SLIPPED, OTHER_VILLAGE))] == [5000]


def test_two_defects_are_judged_by_the_spelling_not_by_consonant_skeletons():
    assert _found(("Umar Suharto", BORN, PLACE), ("Suharti Maharani", SLIPPED, PLACE)) == []
    assert _found(("Cahyono", BORN, PLACE), ("Joni", SLIPPED, PLACE)) == []


def test_a_first_name_left_out_on_the_same_day_only_in_the_same_village():
    assert _found(("Umi Panji Kurniawan", BORN, PLACE),
                  ("Panji Kurniawan", BORN, OTHER_VILLAGE)) == []
    assert _found(("Umi Panji Kurniawan", BORN, PLACE), ("Panji Kurniawan", BORN, PLACE)) == [1]


def test_two_letters_swapped_in_a_one_word_name_is_one_slip():
    # "dw" spelled as another sound would make it two apart; as typed it is one slip
    assert _found(("Dewi", BORN, PLACE), ("Dwei", BORN, PLACE)) == [1]
    assert _found(("Dwi", BORN, PLACE), ("Wdi", BORN, PLACE)) == [1]
    assert _found(("Dwi", BORN, PLACE), ("Wdi", BORN, "3578081003")) == []  # 3 letters


def test_a_consonant_after_a_closed_syllable_opens_the_next_one():
    assert romanise("ชายสม") == "chaism"  # chai-som, not chai-t-m
    assert romanise("มณีสม") == "mnism"  # a last consonant alone: the one before opens
    assert _found(("Amphai Chaisomnak", BORN, PLACE), ("อำไพ ชายสมนาค", BORN, PLACE)) == [1]


def test_clusters_ror_han_and_silent_r_in_thai_script():
    assert romanise("ธนาศรี") == "thnasi"  # ศร opens a syllable; its r is silent
    assert romanise("วรรณ") == "wan"  # two ror: the vowel a
    assert romanise("เพชร") == "phet"  # r silent after a final
    assert romanise("ทอง") == "thong"  # o between consonants
    assert _found(("Bun Wansi", BORN, PLACE), ("บุญ วรรณศรี", BORN, PLACE)) == [1]


def test_a_final_j_meets_the_t_rtgs_writes():
    assert forms("Maneeroj").key == forms("Manirot").key
    assert _found(("Michelle Simbolon", BORN, PLACE),  # an old tj is not a final j
                  ("Mitjhelle Simbolon", BORN, PLACE)) == [1]
