import pytest

from core.textfilter import MAX_NOTE_LENGTH, Refusal, check_note


@pytest.mark.parametrize(
    "text",
    [
        "Thinking of you. Dinner is in the fridge.",
        "おつかれさま。ゆっくり休んでね。",
        "I made curry, 2 portions are yours.",
        "See you at 7:30 if you like.",
        "Room 301 is warm now.",
        "今日は20度くらいで、あたたかいよ。",
    ],
)
def test_warm_everyday_notes_pass(text: str) -> None:
    assert check_note(text) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("look at https://example.org", Refusal.LINK),
        ("ｈｔｔｐｓ://example.org", Refusal.LINK),
        ("www.example.com", Refusal.LINK),
        ("join t.me/somegroup", Refusal.LINK),
        ("my blog: example.jp", Refusal.LINK),
        ("message me @mum_tanaka", Refusal.HANDLE),
        ("call 090-1234-5678", Refusal.PHONE),
        ("０９０１２３４５６７８", Refusal.PHONE),
        ("+81 3 5774 0992", Refusal.PHONE),
        ("write to mum@example.com", Refusal.EMAIL),
        ("   ", Refusal.EMPTY),
        ("x" * (MAX_NOTE_LENGTH + 1), Refusal.TOO_LONG),
    ],
)
def test_ways_out_of_the_bot_are_refused(text: str, reason: Refusal) -> None:
    assert check_note(text) == reason
