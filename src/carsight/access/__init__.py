"""Who may see what: users and roles, dealer-level row scope, personal-data masks and the audit log.

:mod:`.scope` says what one signed-in user may read and applies it where data is read (the one
scoped reader over the warehouse); :mod:`.users` keeps users, tokens, sessions and the audit log in
a small store beside the warehouse that stays writable while the API, the dashboard and a pipeline
run.
"""
