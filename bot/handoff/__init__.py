"""Talk to a person: an anonymous, consented handoff from Jol to NGO caseworkers.

crypto.py  the chat id sealed with Fernet (JOL_CASE_KEY) and keyed HMACs for lookups
models.py  the cases and case_blocks tables (migration 0003)
store.py   the cases: open, find, touch, close, block, purge
relay.py   the Bot API side: forum topics, copies with protect_content, Telegram's errors
purge.py   the retention loop: closed and idle cases deleted, row and topic
The user's and the caseworkers' handlers are in bot/handlers/talk.py.
"""
