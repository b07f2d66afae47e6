"""The protocol's pure parts: the staircase's sequence, JSON round trips, presets that validate."""
import pytest

from surveys.protocol import PRESETS, Protocol, ProtocolError, Staircase, preset_protocol


def test_the_staircase_starts_at_its_start_in_every_block():
    assert Staircase().exposure_after([]) == 500
    assert Staircase(start_ms=300).exposure_after([]) == 300


def test_an_error_lengthens_by_10_and_a_hit_shortens_by_30():
    stairs = Staircase()
    assert stairs.exposure_after([False]) == 510
    assert stairs.exposure_after([True]) == 470
    assert stairs.exposure_after([True, True, False, True, False, False]) == 500 - 30 - 30 + 10 - 30 + 10 + 10


def test_the_staircase_clamps_at_100_and_1000():
    stairs = Staircase()
    assert stairs.exposure_after([True] * 14) == 100  # 500 - 14 * 30 = 80 -> 100
    assert stairs.exposure_after([True] * 14 + [False]) == 110  # climbs back from the floor
    assert stairs.exposure_after([False] * 51) == 1000  # 500 + 510 -> 1000
    assert stairs.exposure_after([False] * 51 + [True]) == 970


def test_a_protocol_survives_json():
    protocol = PRESETS["hype-time"].protocol.replace(qualification_trials=100, exposures_ms=())
    assert Protocol.from_json(protocol.to_json()) == protocol
    assert Protocol.from_json(PRESETS["crn-timed"].protocol.to_json()).exposures_ms == (125, 250, 500, 1000, 2000, 4000, 8000)


def test_unknown_fields_are_refused():
    with pytest.raises(ProtocolError, match="Unknown protocol fields: colour"):
        Protocol.from_json({"colour": "red"})


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_validates_for_its_own_kind_and_count(name):
    preset = PRESETS[name]
    preset.protocol.validate(preset.kind, preset.trials)


@pytest.mark.parametrize("changes, kind, message", [
    ({"staircase": Staircase()}, "pairwise", "staircase"),
    ({"staircase": Staircase(), "exposures_ms": (100,)}, "real_fake", "not both"),
    ({"qualification_trials": 10}, "pairwise", "qualification"),
    ({"exposures_ms": (100, 100)}, "pairwise", "only once"),
    ({"blocks": 9}, "pairwise", "blocks"),
])
def test_invalid_protocols_say_which_field(changes, kind, message):
    with pytest.raises(ProtocolError, match=message):
        Protocol(**changes).validate(kind, 8)


def test_attention_exposure_defaults_to_the_longest():
    assert Protocol().attention_exposure() is None
    assert Protocol(exposures_ms=(125, 8000, 500)).attention_exposure() == 8000
    assert Protocol(staircase=Staircase(max_ms=900)).attention_exposure() == 900
    assert preset_protocol("crn-timed").attention_exposure() == 4000
