"""The pure core: plain functions over plain values.

Nothing in this package imports Telegram, SQLAlchemy or anything that does I/O. Time always comes in
as an argument (see :mod:`core.clock`), so every rule here is tested directly.
"""
