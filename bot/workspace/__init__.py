"""The editors' web workspace, mounted under /workspace/ in the app bot/web.py builds.

Editors (JOL_ADMIN_IDS) sign in with a one-time link from the bot (`/workspace`) or from
`jol workspace link`; they browse and edit the content, see it as Telegram shows it, and
publish drafts as content versions (after another editor's review when JOL_REVIEW_REQUIRED).
Nothing here shows or stores users' data: editors are staff, their id and name are kept.
"""
