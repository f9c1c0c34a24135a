"""The places that have trends: Worldwide, about 170 countries and two towns, each with its real Yahoo WOEID (the
id X's v1.1 trends API takes) and, below Worldwide, its ISO 3166-1 alpha-2 country code.

The code is what ties a place to X's search: the hot-topics pack asks for each place's tweets with
`place_country:XX`, so every place must know the country X would tag its tweets with (a town counts for its
country; Worldwide has none). The ids are the real ones so that a pack configured here works unchanged against
the real API. A place's position in `PLACES` is part of every tweet id (see trends.py), so append rather than
reorder, as with the word lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PlaceKind = Literal["world", "country", "town"]
WORLDWIDE = 1


@dataclass(frozen=True, slots=True)
class Place:
    """A place with trends; `country_code` is None only for Worldwide."""

    woeid: int
    name: str
    country_code: str | None
    kind: PlaceKind


# (WOEID, ISO 3166-1 alpha-2, name), cross-checked against two public GeoPlanet country tables. Left out: the two
# Congos (the tables disagree on which id is which), micro-states and North Korea (too few X users to trend).
_COUNTRIES = (
    (23424739, "AF", "Afghanistan"), (23424742, "AL", "Albania"), (23424740, "DZ", "Algeria"),
    (23424745, "AO", "Angola"), (23424747, "AR", "Argentina"), (23424743, "AM", "Armenia"),
    (23424748, "AU", "Australia"), (23424750, "AT", "Austria"), (23424741, "AZ", "Azerbaijan"),
    (23424758, "BS", "Bahamas"), (23424753, "BH", "Bahrain"), (23424759, "BD", "Bangladesh"),
    (23424754, "BB", "Barbados"), (23424765, "BY", "Belarus"), (23424757, "BE", "Belgium"),
    (23424760, "BZ", "Belize"), (23424764, "BJ", "Benin"), (23424770, "BT", "Bhutan"), (23424762, "BO", "Bolivia"),
    (23424761, "BA", "Bosnia and Herzegovina"), (23424755, "BW", "Botswana"), (23424768, "BR", "Brazil"),
    (23424773, "BN", "Brunei"), (23424771, "BG", "Bulgaria"), (23424978, "BF", "Burkina Faso"),
    (23424774, "BI", "Burundi"), (23424776, "KH", "Cambodia"), (23424785, "CM", "Cameroon"),
    (23424775, "CA", "Canada"), (23424794, "CV", "Cape Verde"), (23424792, "CF", "Central African Republic"),
    (23424777, "TD", "Chad"), (23424782, "CL", "Chile"), (23424781, "CN", "China"), (23424787, "CO", "Colombia"),
    (23424791, "CR", "Costa Rica"), (23424843, "HR", "Croatia"), (23424793, "CU", "Cuba"), (26812346, "CY", "Cyprus"),
    (23424810, "CZ", "Czech Republic"), (23424796, "DK", "Denmark"), (23424797, "DJ", "Djibouti"),
    (23424800, "DO", "Dominican Republic"), (23424801, "EC", "Ecuador"), (23424802, "EG", "Egypt"),
    (23424807, "SV", "El Salvador"), (23424804, "GQ", "Equatorial Guinea"), (23424806, "ER", "Eritrea"),
    (23424805, "EE", "Estonia"), (23424808, "ET", "Ethiopia"), (23424813, "FJ", "Fiji"), (23424812, "FI", "Finland"),
    (23424819, "FR", "France"), (23424822, "GA", "Gabon"), (23424821, "GM", "Gambia"), (23424823, "GE", "Georgia"),
    (23424829, "DE", "Germany"), (23424824, "GH", "Ghana"), (23424833, "GR", "Greece"), (23424834, "GT", "Guatemala"),
    (23424835, "GN", "Guinea"), (23424929, "GW", "Guinea-Bissau"), (23424836, "GY", "Guyana"),
    (23424839, "HT", "Haiti"), (23424841, "HN", "Honduras"), (23424844, "HU", "Hungary"), (23424845, "IS", "Iceland"),
    (23424848, "IN", "India"), (23424846, "ID", "Indonesia"), (23424851, "IR", "Iran"), (23424855, "IQ", "Iraq"),
    (23424803, "IE", "Ireland"), (23424852, "IL", "Israel"), (23424853, "IT", "Italy"),
    (23424854, "CI", "Ivory Coast"), (23424858, "JM", "Jamaica"), (23424856, "JP", "Japan"),
    (23424860, "JO", "Jordan"), (23424871, "KZ", "Kazakhstan"), (23424863, "KE", "Kenya"), (23424870, "KW", "Kuwait"),
    (23424864, "KG", "Kyrgyzstan"), (23424872, "LA", "Laos"), (23424874, "LV", "Latvia"), (23424873, "LB", "Lebanon"),
    (23424880, "LS", "Lesotho"), (23424876, "LR", "Liberia"), (23424882, "LY", "Libya"),
    (23424875, "LT", "Lithuania"), (23424881, "LU", "Luxembourg"), (23424883, "MG", "Madagascar"),
    (23424889, "MW", "Malawi"), (23424901, "MY", "Malaysia"), (23424899, "MV", "Maldives"), (23424891, "ML", "Mali"),
    (23424897, "MT", "Malta"), (23424896, "MR", "Mauritania"), (23424894, "MU", "Mauritius"),
    (23424900, "MX", "Mexico"), (23424885, "MD", "Moldova"), (23424887, "MN", "Mongolia"),
    (20069817, "ME", "Montenegro"), (23424893, "MA", "Morocco"), (23424902, "MZ", "Mozambique"),
    (23424763, "MM", "Myanmar"), (23424987, "NA", "Namibia"), (23424911, "NP", "Nepal"),
    (23424909, "NL", "Netherlands"), (23424916, "NZ", "New Zealand"), (23424915, "NI", "Nicaragua"),
    (23424906, "NE", "Niger"), (23424908, "NG", "Nigeria"), (23424890, "MK", "North Macedonia"),
    (23424910, "NO", "Norway"), (23424898, "OM", "Oman"), (23424922, "PK", "Pakistan"), (23424924, "PA", "Panama"),
    (23424926, "PG", "Papua New Guinea"), (23424917, "PY", "Paraguay"), (23424919, "PE", "Peru"),
    (23424934, "PH", "Philippines"), (23424923, "PL", "Poland"), (23424925, "PT", "Portugal"),
    (23424935, "PR", "Puerto Rico"), (23424930, "QA", "Qatar"), (23424933, "RO", "Romania"),
    (23424936, "RU", "Russia"), (23424937, "RW", "Rwanda"), (23424938, "SA", "Saudi Arabia"),
    (23424943, "SN", "Senegal"), (20069818, "RS", "Serbia"), (23424946, "SL", "Sierra Leone"),
    (23424948, "SG", "Singapore"), (23424877, "SK", "Slovakia"), (23424945, "SI", "Slovenia"),
    (23424949, "SO", "Somalia"), (23424942, "ZA", "South Africa"), (23424868, "KR", "South Korea"),
    (23424950, "ES", "Spain"), (23424778, "LK", "Sri Lanka"), (23424952, "SD", "Sudan"), (23424913, "SR", "Suriname"),
    (23424993, "SZ", "Eswatini"), (23424954, "SE", "Sweden"), (23424957, "CH", "Switzerland"),
    (23424956, "SY", "Syria"), (23424971, "TW", "Taiwan"), (23424961, "TJ", "Tajikistan"),
    (23424973, "TZ", "Tanzania"), (23424960, "TH", "Thailand"), (23424968, "TL", "Timor-Leste"),
    (23424965, "TG", "Togo"), (23424958, "TT", "Trinidad and Tobago"), (23424967, "TN", "Tunisia"),
    (23424969, "TR", "Turkey"), (23424972, "TM", "Turkmenistan"), (23424974, "UG", "Uganda"),
    (23424976, "UA", "Ukraine"), (23424738, "AE", "United Arab Emirates"), (23424975, "GB", "United Kingdom"),
    (23424977, "US", "United States"), (23424979, "UY", "Uruguay"), (23424980, "UZ", "Uzbekistan"),
    (23424982, "VE", "Venezuela"), (23424984, "VN", "Vietnam"), (23425002, "YE", "Yemen"), (23425003, "ZM", "Zambia"),
    (23425004, "ZW", "Zimbabwe"),
)  # fmt: skip

_TOWNS = ((2459115, "US", "New York"), (44418, "GB", "London"))

PLACES: dict[int, Place] = {
    WORLDWIDE: Place(WORLDWIDE, "Worldwide", None, "world"),
    **{woeid: Place(woeid, name, code, "town") for woeid, code, name in _TOWNS},
    **{woeid: Place(woeid, name, code, "country") for woeid, code, name in _COUNTRIES},
}

# What the hot-topics pack plans by default: the whole world, then every country (towns only add overlap).
HOT_TOPIC_WOEIDS: tuple[int, ...] = (WORLDWIDE, *(woeid for woeid, _, _ in _COUNTRIES))


def woeids_in(countries: frozenset[str]) -> tuple[int, ...]:
    """The places (countries and towns) whose country code is one of `countries`, in `PLACES` order."""
    return tuple(woeid for woeid, place in PLACES.items() if place.country_code in countries)
