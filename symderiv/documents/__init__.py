"""Documents: the grammar, Markdown scanning, parsing, interpretation, roles and checking."""
