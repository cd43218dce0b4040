"""The eligibility and claims apps: routes, dependencies and what the two apps share."""
