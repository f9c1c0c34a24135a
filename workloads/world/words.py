"""Fixed word lists the world builds names, titles, post texts and trends from.

They are data, not randomness: changing a list changes every world, so append rather than reorder.
"""

from __future__ import annotations

FIRST_NAMES = (
    "Ada", "Alan", "Amara", "Ana", "Ben", "Bo", "Chen", "Chloe", "Dan", "Dara", "Eli", "Emma", "Femi", "Gia",
    "Hana", "Ivan", "Jae", "Jon", "Kai", "Kira", "Lea", "Leo", "Lina", "Luca", "Mara", "Max", "Mia", "Nia",
    "Noah", "Omar", "Pia", "Ravi", "Rosa", "Sam", "Sara", "Taro", "Uma", "Vera", "Yara", "Zoe",
)  # fmt: skip

LAST_NAMES = (
    "Abe", "Alves", "Bauer", "Berg", "Costa", "Diaz", "Dubois", "Eze", "Fischer", "Garcia", "Haddad", "Ito",
    "Jensen", "Kim", "Kowalski", "Lee", "Lopez", "Mehta", "Moreau", "Nakamura", "Novak", "Okafor", "Olsen",
    "Park", "Patel", "Quinn", "Rossi", "Sato", "Silva", "Singh", "Smith", "Tanaka", "Varga", "Wang", "Weber",
    "Wu", "Yilmaz", "Young", "Zhang", "Ziegler",
)  # fmt: skip

WORDS = (
    "amber", "anchor", "apple", "arcade", "atlas", "aurora", "autumn", "banjo", "beacon", "berry", "bicycle",
    "blossom", "breeze", "bridge", "canyon", "carnival", "castle", "cedar", "chess", "cinema", "circuit",
    "cloud", "comet", "compass", "coral", "cosmic", "crystal", "dance", "delta", "desert", "diamond", "dragon",
    "drum", "eclipse", "ember", "engine", "falcon", "festival", "fjord", "flame", "forest", "fossil", "galaxy",
    "garden", "glacier", "golden", "guitar", "harbor", "harvest", "horizon", "island", "jazz", "jungle",
    "kite", "lagoon", "lantern", "lava", "legend", "lemon", "lotus", "lunar", "magnet", "maple", "marathon",
    "meadow", "melody", "meteor", "mirror", "monsoon", "mosaic", "mountain", "nebula", "neon", "ocean",
    "orbit", "orchid", "paper", "pepper", "piano", "pixel", "planet", "prairie", "prism", "pulse", "quartz",
    "quest", "radar", "rain", "rhythm", "river", "rocket", "saffron", "sailor", "savanna", "signal", "silver",
    "solar", "sonic", "spice", "spring", "storm", "summit", "sunset", "tango", "temple", "thunder", "tide",
    "tiger", "timber", "tornado", "trail", "tundra", "turbo", "valley", "velvet", "violet", "volcano",
    "voyage", "wave", "whisper", "willow", "winter", "wizard", "zephyr", "zenith",
)  # fmt: skip

FILLER = (
    "just", "watched", "this", "so", "good", "check", "out", "today", "tonight", "honestly", "wow", "new",
    "best", "ever", "look", "at", "love", "the", "again", "finally", "really", "more", "about", "live",
)  # fmt: skip
