from tests.harness import Harness

ME = 1001


async def test_first_contact_shows_welcome(bot: Harness) -> None:
    replies = await bot.send(ME, "/start")
    assert replies == [bot.t("welcome")]
