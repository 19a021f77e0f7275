"""A city's name stock for bench_dedup.py's `--stock city`: bigger lists, drawn unevenly.

The old stock (`--stock small`: the synthetic city's ~70 given names and ~30 family
names, 90 more, 45 Thai syllables, each drawn with the same chance) gives a million
people only a few thousand distinct names, so exact namesakes born on one day in one
district are far commoner than in a real city. This stock is closer to how names in
Indonesia and Thailand are made:

- Indonesian given names from a longer list of common ones, drawn Zipf-like (the k-th
  name with weight 1/k**0.7: a few very common, "Muhammad", "Siti", "Sri", a long
  tail); and, for a third of words, Javanese names built the way they are (a root and
  an ending: Wahyu + ningsih, Setya + wati, Hadi + saputro, Sulistyo + wati);
- last words from Batak, Minahasan, Moluccan, Chinese-Indonesian and Javanese family
  names and common second names, Zipf-like too;
- Thai names from 90 syllables, Zipf-like (given names of two or three, family names of
  three or four syllables, as Thai surnames are long and rarely shared).

The lists are written from common knowledge of names in use, not from any register.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from itertools import accumulate

GIVEN = (
    "Muhammad", "Siti", "Sri", "Nur", "Ahmad", "Dewi", "Agus", "Budi", "Putri", "Dwi",
    "Eko", "Tri", "Rizky", "Andi", "Ayu", "Dian", "Fitri", "Indah", "Wahyu", "Ratna",
    "Joko", "Bambang", "Slamet", "Hendra", "Rudi", "Yusuf", "Arif", "Hadi", "Teguh",
    "Sugeng", "Putra", "Imam", "Gilang", "Reza", "Adi", "Hari", "Iwan", "Bagus", "Ilham",
    "Farhan", "Aditya", "Fajar", "Dimas", "Bayu", "Ani", "Rina", "Wati", "Lestari",
    "Yuliana", "Endang", "Nurul", "Aisyah", "Nabila", "Rahma", "Kartini", "Wulan", "Intan",
    "Anisa", "Eka", "Maria", "Nadia", "Zahra", "Citra", "Mega", "Abdul", "Achmad", "Agung",
    "Bima", "Cahya", "Dedi", "Edi", "Fikri", "Galih", "Hendri", "Irfan", "Joni", "Krisna",
    "Lukman", "Made", "Nyoman", "Ketut", "Wayan", "Komang", "Kadek", "Gede", "Putu", "Oki",
    "Panji", "Rangga", "Satria", "Taufik", "Umar", "Wahid", "Yoga", "Zainal", "Bunga",
    "Cindy", "Desi", "Erna", "Fatimah", "Gita", "Hesti", "Ika", "Juwita", "Kiki", "Lina",
    "Mira", "Novi", "Okta", "Puspita", "Ratih", "Septi", "Tuti", "Umi", "Vina", "Yanti",
    "Zulaikha", "Anton", "Antonius", "Yohanes", "Petrus", "Paulus", "Fransiskus", "Stefanus",
    "Agustinus", "Yosef", "Markus", "Lukas", "Matius", "Daniel", "David", "Michael",
    "Kevin", "Jonathan", "Christian", "Yohana", "Theresia", "Elisabeth", "Veronika",
    "Agnes", "Angela", "Monica", "Natalia", "Stefani", "Grace", "Jessica", "Michelle",
    "Felicia", "Abdullah", "Abdurrahman", "Hasan", "Husein", "Ali", "Umar", "Usman",
    "Hamzah", "Ibrahim", "Ismail", "Yahya", "Zakaria", "Sulaiman", "Idris", "Yunus",
    "Ridwan", "Syaiful", "Saiful", "Syarif", "Hidayatullah", "Khairul", "Fauzi", "Fauzan",
    "Hafiz", "Rafi", "Raka", "Naufal", "Alif", "Dafa", "Dzaki", "Fadli", "Fahmi", "Faisal",
    "Firman", "Habib", "Hakim", "Ikhsan", "Jamal", "Kamal", "Luthfi", "Mahmud", "Malik",
    "Nasrul", "Rasyid", "Rahmat", "Rohman", "Salman", "Sholeh", "Syahrul", "Wildan",
    "Zaki", "Zulkifli", "Aminah", "Aminatun", "Halimah", "Khadijah", "Maryam", "Nafisa",
    "Nisa", "Nurhayati", "Rohmah", "Salma", "Sofia", "Syifa", "Umi", "Zainab", "Zaskia",
    "Alya", "Amelia", "Anggun", "Bella", "Clara", "Dinda", "Elsa", "Febri", "Hana",
    "Irma", "Jihan", "Kirana", "Laras", "Mawar", "Melati", "Nadya", "Olivia", "Rani",
    "Sinta", "Tania", "Vania", "Winda", "Yasmin", "Aurel", "Cantika", "Keisha", "Nayla",
    "Alvin", "Arya", "Bintang", "Candra", "Darma", "Erlangga", "Guntur", "Harun", "Indra",
    "Jaya", "Kurnia", "Lintang", "Mulya", "Nanda", "Prima", "Rendra", "Surya", "Tirta",
    "Wira", "Yudha", "Arjuna", "Bayu", "Dirga", "Ganesha", "Kresna", "Nakula", "Sadewa",
    "Samsul", "Sutrisno", "Suparman", "Sukarno", "Suharto", "Sukirman", "Sunarto",
    "Suwarno", "Sumarni", "Sumiati", "Suyatno", "Tukiman", "Paijo", "Paiman", "Painem",
    "Ponijan", "Tumini", "Ngatini", "Ngatiman", "Marsinah", "Karsinah", "Sarinah",
    "Darsono", "Kasmin", "Warsito", "Wagiman", "Poniman", "Supardi", "Sumadi", "Karyono",
    "Mujiono", "Rusdi", "Syamsul", "Zulfikar", "Herman", "Hermawan", "Heru", "Kusno",
    "Lilik", "Mamik", "Ninik", "Ponco", "Ratno", "Sapto", "Suryo", "Tono", "Untung",
    "Wawan", "Yanto", "Yayuk", "Yuli", "Yuni", "Atik", "Enny", "Erni", "Ida", "Iin",
    "Lia", "Lilis", "Neneng", "Nining", "Popon", "Ujang", "Asep", "Cecep", "Dadang",
    "Deden", "Engkos", "Iis", "Jajang", "Ade", "Yayan", "Aep", "Dede", "Euis", "Eneng",
    "Teuku", "Cut", "Tengku", "Daeng", "Andi", "La", "Wa", "Baiq", "Lalu", "Raden",
)
FAMILY = (
    "Siregar", "Lubis", "Nasution", "Harahap", "Hasibuan", "Simanjuntak", "Sihombing",
    "Panjaitan", "Sinaga", "Manurung", "Pardede", "Situmorang", "Tampubolon", "Sitompul",
    "Ginting", "Tarigan", "Sembiring", "Purba", "Damanik", "Saragih", "Silalahi",
    "Simatupang", "Hutapea", "Hutagalung", "Pasaribu", "Marpaung", "Napitupulu",
    "Simbolon", "Sitorus", "Gultom", "Nainggolan", "Sianturi", "Aritonang", "Butarbutar",
    "Hutabarat", "Lumbantobing", "Matondang", "Pohan", "Rangkuti", "Daulay", "Batubara",
    "Tanjung", "Pulungan", "Ritonga", "Dalimunthe", "Sumampouw", "Lumentut", "Rondonuwu",
    "Pangemanan", "Wowor", "Tumbelaka", "Sondakh", "Mandagi", "Rumengan", "Kalalo",
    "Lengkong", "Pelealu", "Waworuntu", "Lasut", "Tambunan", "Latuconsina", "Pattinama",
    "Tuhumury", "Pattiradjawane", "Matulessy", "Siahaya", "Leiwakabessy", "Wattimena",
    "Manuputty", "Sahetapy", "Tan", "Lim", "Wijaya", "Halim", "Gunawan", "Tanoto",
    "Salim", "Hartono", "Kusuma", "Tjandra", "Sutanto", "Setiadi", "Lie", "Ong", "Gozali",
    "Hadinata", "Tanuwijaya", "Sugiarto", "Widjaja", "Santoso", "Setiawan", "Kurniawan",
    "Pratama", "Saputra", "Syahputra", "Hidayat", "Nugroho", "Wibowo", "Purnomo",
    "Prasetyo", "Susanto", "Firmansyah", "Ramadhan", "Maulana", "Hakim", "Rahman",
    "Hasan", "Fauzi", "Permana", "Ramadhani", "Rahmawati", "Susanti", "Handayani",
    "Maharani", "Utami", "Permata", "Sari", "Rahayu", "Anggraini", "Wulandari", "Yulianti",
    "Fitriani", "Puspitasari", "Kusumawati", "Safitri", "Oktaviani", "Novitasari",
    "Pertiwi", "Lestari", "Hartati", "Suryani", "Suryadi", "Mahendra", "Pangestu",
    "Sudirman", "Pranoto", "Darmawan", "Cahyadi", "Wibisono", "Sasongko", "Hadiwijaya",
    "Suharto", "Sukmawati", "Kartika", "Anggoro", "Sulistyo", "Wicaksono", "Adiputra",
    "Nugraha", "Sanjaya", "Kusnadi", "Irawan", "Hermanto", "Budiman", "Effendi",
    "Siswanto", "Haryanto", "Sutrisno", "Mulyadi", "Sudarsono", "Wahyudi", "Hendrawan",
    "Gunadi", "Iskandar", "Syahrir", "Arifin", "Fadillah", "Hamid", "Siddiq", "Zulkarnain",
    "Ismail", "Yusuf", "Abdullah", "Ibrahim", "Amin", "Bakri", "Munir", "Anwar",
)
GIVEN = tuple(dict.fromkeys(GIVEN))  # one weight per name
FAMILY = tuple(dict.fromkeys(FAMILY))
# Javanese names: a root and an ending (a few roots end a name alone too).
ROOTS = ("Wahyu", "Setya", "Sri", "Budi", "Tri", "Sulistyo", "Hadi", "Purwa", "Dwi",
         "Eko", "Endah", "Rahayu", "Kusuma", "Sekar", "Sari", "Puji", "Rini", "Wida",
         "Retno", "Yuli", "Ari", "Tutik", "Siswo", "Suryo", "Harjo", "Marto", "Parto",
         "Karto", "Wiro", "Sastro", "Darmo", "Pramono", "Mulyo", "Slamet", "Agus",
         "Bambang", "Heru", "Joko", "Kris", "Nur", "Puspa", "Ratna", "Dyah", "Endang",
         "Galuh", "Ayu", "Indri", "Lestari", "Murni", "Nining", "Tanti", "Utari", "Widya",
         "Yekti", "Anjar", "Bekti", "Cahyo", "Dharma", "Gatot", "Haryo", "Jati", "Kukuh",
         "Laksmi", "Mardi", "Ning", "Panca", "Rukmi", "Saptono", "Tejo", "Wiji", "Yoso")
ENDINGS = ("ningsih", "ningrum", "wati", "yanti", "asih", "wan", "to", "no", "di",
           "saputro", "sworo", "wiyono", "hartono", "diningrat", "ningtyas", "rini")
# Thai syllables beyond bench_dedup.THAI: the script, then romanisations in use.
MORE_THAI = (("ปรีชา", "preecha", "pricha"), ("สมชาย", "somchai", "somchay"),
             ("ณัฐ", "nat", "nath"), ("ธนา", "thana", "tana"), ("พิม", "phim", "pim"),
             ("กานต์", "kan", "karn"), ("นภา", "napha", "napa"), ("ศิริ", "siri", "sirri"),
             ("อำไพ", "amphai", "ampai"), ("บุษ", "but", "bus"), ("ปัญญา", "panya", "punya"),
             ("เกียรติ", "kiat", "kiet"), ("ชนะ", "chana", "jana"), ("ธีร", "thira", "teera"),
             ("วีร", "wira", "veera"), ("อุดม", "udom", "oudom"), ("สมบัติ", "sombat", "sombut"),
             ("ประเสริฐ", "prasoet", "prasert"), ("รุ่ง", "rung", "roong"),
             ("เรือง", "rueang", "ruang"), ("ศรี", "sri", "si"), ("ทอง", "thong", "tong"),
             ("เพชร", "phet", "pet"), ("นิล", "nin", "nil"), ("มาลี", "mali", "malee"),
             ("จิต", "chit", "jit"), ("ใส", "sai", "sy"), ("ธรรม", "tham", "thum"),
             ("ชาติ", "chat", "chart"), ("ไพ", "phai", "pai"), ("โรจน์", "rot", "roj"),
             ("เลิศ", "loet", "lert"), ("วิไล", "wilai", "vilai"), ("สุดา", "suda", "sudah"),
             ("ผล", "phon", "pol"), ("ภัทร", "phat", "pat"), ("อร", "on", "orn"),
             ("ฤดี", "ruedi", "rudee"), ("ทัย", "thai", "tai"), ("วดี", "wadi", "wadee"),
             ("ยุทธ", "yut", "yuth"), ("กมล", "kamon", "kamol"), ("ศักดา", "sakda", "sakdar"),
             ("สิทธิ์", "sit", "sitt"), ("ชล", "chon", "chol"))


def zipf_weights(count: int, exponent: float = 0.7) -> list[float]:
    """Cumulative weights of `count` items, the k-th drawn with weight 1 / k**exponent."""
    return list(accumulate(1 / (k + 1) ** exponent for k in range(count)))


class Stock:
    """Draws words from the city's stock with one random generator."""

    def __init__(self, rng: random.Random, thai_count: int) -> None:
        self.rng = rng
        self._given = zipf_weights(len(GIVEN))
        self._family = zipf_weights(len(FAMILY))
        self._roots = zipf_weights(len(ROOTS))
        self._thai = zipf_weights(thai_count, 0.5)
        self.thai_count = thai_count

    def _pick(self, items: Sequence[str], weights: list[float]) -> str:
        return self.rng.choices(items, cum_weights=weights)[0]

    def given(self) -> str:
        if self.rng.random() < 1 / 3:
            return self._pick(ROOTS, self._roots) + self.rng.choice(ENDINGS)
        return self._pick(GIVEN, self._given)

    def family(self) -> str:
        if self.rng.random() < 0.25:
            return self._pick(ROOTS, self._roots) + self.rng.choice(ENDINGS)
        return self._pick(FAMILY, self._family)

    def thai_syllable(self) -> int:
        return self.rng.choices(range(self.thai_count), cum_weights=self._thai)[0]
