"""The plan's rules: the access decision, front-end edits, adjudication, intake and review
of claims, the date-of-birth guessing defence."""
