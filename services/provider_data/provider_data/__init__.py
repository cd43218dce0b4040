"""provider_data."""
